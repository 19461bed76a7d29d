import { describe, expect, it } from 'vitest';
import { ArmSpecError, DEFAULT_LR, readArmSpec, variantOfArm } from './armSpec';
import { ARM_VARIANT_ORDER } from './armVariants';

describe('arm specs', () => {
  it('reads kind, learning rate and settings', () => {
    expect(readArmSpec(' adapprox@1e-2:beta1=0,kmin=1,kmax=1,guidance=half ')).toEqual({
      kind: 'adapprox',
      lr: 1e-2,
      settings: { beta1: 0, kmin: 1, kmax: 1, guidance: 'half' },
    });
    expect(readArmSpec('came')).toEqual({ kind: 'came', lr: DEFAULT_LR.came, settings: {} });
  });

  it('refuses what is not an arm, naming what is allowed', () => {
    expect(() => readArmSpec('sgd')).toThrow(ArmSpecError);
    expect(() => readArmSpec('adamw:kmin=2')).toThrow(
      /"kmin=2" is not a setting of adamw; use beta1, beta2, wd/,
    );
    expect(() => readArmSpec('adamw@fast')).toThrow(/not a number/);
    expect(() => readArmSpec('adamw:beta1=')).toThrow(/not a number/);
    expect(() => readArmSpec('adapprox:guidance=sometimes')).toThrow(/off, half, positive/);
    expect(() => readArmSpec('adapprox:xi')).toThrow(ArmSpecError);
    expect(() => readArmSpec('adapprox:__proto__=1')).toThrow(ArmSpecError);
    expect(() => readArmSpec('adapprox:constructor=1')).toThrow(ArmSpecError);
  });

  it('names the studio variant that is exactly the arm, and none for the rest', () => {
    expect(variantOfArm(readArmSpec('adamw@1e-3'))).toBe('adamw');
    // The CLI's Adafactor has no first moment unless told; the studio's paper-scale Adafactor has β1 = 0.9.
    expect(variantOfArm(readArmSpec('adafactor'))).toBe('adafactor-no-m');
    expect(variantOfArm(readArmSpec('adafactor:beta1=0.9'))).toBe('adafactor');
    expect(variantOfArm(readArmSpec('adapprox:beta1=0'))).toBe('adapprox-no-m');
    expect(variantOfArm(readArmSpec('adapprox:kmax=1,kmin=1'))).toBe('adapprox-k1');
    expect(variantOfArm(readArmSpec('adapprox:guidance=half'))).toBe('adapprox-guidance');
    expect(variantOfArm(readArmSpec('adapprox:kmin=2,kmax=2'))).toBeNull();
    expect(variantOfArm(readArmSpec('adamw:wd=0'))).toBeNull();
    // Every variant but k = k_max (a rank per matrix) has a spelling.
    const spelled = ['adamw', 'adafactor:beta1=0.9', 'adafactor', 'came', 'adapprox', 'adapprox:beta1=0']
      .concat(['adapprox:kmin=1,kmax=1', 'adapprox:guidance=half'])
      .map((s) => variantOfArm(readArmSpec(s)));
    expect(new Set(spelled)).toEqual(new Set(ARM_VARIANT_ORDER.filter((v) => v !== 'adapprox-kmax')));
  });
});
