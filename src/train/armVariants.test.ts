import { describe, expect, it } from 'vitest';
import { ARM_VARIANT_ORDER, ARM_VARIANTS, type ArmVariant, optimizerOf } from './armVariants';
import { Adapprox, type AdapproxOptions, createOptimizer } from './optim';

const rule = (bound: AdapproxOptions['kMin']) => (typeof bound === 'function' ? bound : () => bound);

describe('the studio’s arms', () => {
  it('builds every arm’s optimizer, and marks the Adapprox arms as resting on a reconstruction', () => {
    for (const variant of ARM_VARIANT_ORDER) {
      const optimizer = createOptimizer(optimizerOf(variant));
      expect(optimizer.name, variant).toBe(ARM_VARIANTS[variant].label.split(/[ ,]/)[0]);
      expect(Boolean(ARM_VARIANTS[variant].reconstruction), variant).toBe(optimizer instanceof Adapprox);
      optimizer.destroy();
    }
  });

  it('sets the paper-scale ablations: no first moment, fixed ranks 1 and ⌊min(m, n)/4⌋, guidance', () => {
    const options = (v: ArmVariant) => (optimizerOf(v).options ?? {}) as AdapproxOptions;
    expect(options('adapprox-no-m').beta1).toBe(0);
    expect(options('adapprox-guidance').guidance).toBe('half');
    expect([rule(options('adapprox-k1').kMin)(512, 32), rule(options('adapprox-k1').kMax)(512, 32)]).toEqual([
      1, 1,
    ]);
    const kmax = options('adapprox-kmax');
    expect([rule(kmax.kMin)(512, 32), rule(kmax.kMax)(512, 32), rule(kmax.kMax)(8, 12)]).toEqual([8, 8, 2]);
    expect(() => optimizerOf('sgd' as ArmVariant)).toThrow(RangeError);
  });
});
