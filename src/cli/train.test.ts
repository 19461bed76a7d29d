import { InvalidArgumentError } from 'commander';
import { describe, expect, it } from 'vitest';
import { DEFAULT_LR, parseArm } from './train';

describe('train command arguments', () => {
  it('reads an arm as kind[@lr][:key=value,…]', () => {
    expect(parseArm('adamw')).toEqual({
      id: 'adamw',
      label: 'adamw',
      lr: DEFAULT_LR.adamw,
      optimizer: { kind: 'adamw', options: {} },
    });
    expect(parseArm('adapprox@1e-2:beta1=0,kmin=1,kmax=1,guidance=half').optimizer).toEqual({
      kind: 'adapprox',
      options: { beta1: 0, kMin: 1, kMax: 1, guidance: 'half' },
    });
    expect(parseArm('came@3e-4').lr).toBe(3e-4);
  });

  it('refuses unknown optimizers, settings of another optimizer and non-numbers', () => {
    expect(() => parseArm('sgd')).toThrow(InvalidArgumentError);
    expect(() => parseArm('adamw:kmin=2')).toThrow(
      /"kmin=2" is not a setting of adamw; use beta1, beta2, wd/,
    );
    expect(() => parseArm('adamw@fast')).toThrow(/not a number/);
    expect(() => parseArm('adapprox:guidance=sometimes')).toThrow(/off, half, positive/);
    expect(() => parseArm('adapprox:xi')).toThrow(InvalidArgumentError);
  });
});
