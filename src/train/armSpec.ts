// An optimizer arm spelled as text, `kind[@lr][:key=value,…]`: how the CLI's --arm takes one and
// how a CLI run record names its arms (the id is the text). Only the syntax, the names and the
// learning rate's bound (train/options.ts) live here, with no engine import, so the studio can read
// a CLI record's arms back into its own arm variants (variantOfArm); the CLI turns the settings
// into an optimizer's options (cli/train.ts).

import { describeBound, inBound } from '../bounds/bound';
import type { ArmVariant } from './armVariants';
import { TRAIN_BOUNDS } from './options';

export const ARM_KINDS = ['adamw', 'adafactor', 'came', 'adapprox'] as const;
export type ArmKind = (typeof ARM_KINDS)[number];

/** Peak learning rates of an arm that names none (the studio's defaults; tune per arm for comparisons). */
export const DEFAULT_LR: Record<ArmKind, number> = {
  adamw: 3e-3,
  adafactor: 3e-3,
  came: 1e-3,
  adapprox: 3e-3,
};

/** The settings an arm may name, per optimizer; `values` for the ones that are words, not numbers. */
export const ARM_SETTINGS: Record<string, { kinds: readonly ArmKind[]; values?: readonly string[] }> = {
  beta1: { kinds: ARM_KINDS },
  beta2: { kinds: ['adamw', 'came', 'adapprox'] },
  wd: { kinds: ARM_KINDS },
  kmin: { kinds: ['adapprox'] },
  kmax: { kinds: ['adapprox'] },
  xi: { kinds: ['adapprox'] },
  guidance: { kinds: ['adapprox'], values: ['off', 'half', 'positive'] },
  seed: { kinds: ['adapprox'] },
  /** Adapprox's sketch: warm-started from the previous U with l = 2 (on, the default) or fresh with l = 5 (off). */
  warm: { kinds: ['adapprox'], values: ['on', 'off'] },
};

export interface ArmText {
  kind: ArmKind;
  lr: number;
  /** The settings the text names, numbers read as numbers; what it leaves out is the optimizer's default. */
  settings: Record<string, number | string>;
}

/** A text that is not an arm; the message says what is expected. */
export class ArmSpecError extends Error {
  override readonly name = 'ArmSpecError';
}

/** Reads `adamw@3e-3`, `adapprox:beta1=0` (no first moment), `adapprox@1e-3:kmin=1,kmax=1` (fixed rank 1). */
export function readArmSpec(spec: string): ArmText {
  const m = /^([a-z]+)(?:@([^:]+))?(?::(.*))?$/.exec(spec.trim());
  const kind = m?.[1] as ArmKind | undefined;
  if (!m || !kind || !ARM_KINDS.includes(kind)) {
    throw new ArmSpecError(
      `expected an arm such as adamw@3e-3 or adapprox:beta1=0, with one of ${ARM_KINDS.join(', ')}`,
    );
  }
  const lr = m[2] === undefined ? DEFAULT_LR[kind] : Number(m[2]);
  if (!Number.isFinite(lr)) throw new ArmSpecError(`the learning rate of ${spec} is not a number`);
  if (!inBound(TRAIN_BOUNDS.lr, lr))
    throw new ArmSpecError(`the learning rate of ${spec} must be ${describeBound(TRAIN_BOUNDS.lr)}`);
  const settings: Record<string, number | string> = {};
  for (const pair of m[3] ? m[3].split(',') : []) {
    const [key, value] = pair.split('=') as [string, string | undefined];
    const known = Object.hasOwn(ARM_SETTINGS, key) ? ARM_SETTINGS[key] : undefined;
    if (!known?.kinds.includes(kind) || value === undefined) {
      const allowed = Object.entries(ARM_SETTINGS)
        .filter(([, k]) => k.kinds.includes(kind))
        .map(([name]) => name);
      throw new ArmSpecError(`${spec}: "${pair}" is not a setting of ${kind}; use ${allowed.join(', ')}`);
    }
    if (known.values) {
      if (!known.values.includes(value))
        throw new ArmSpecError(`${spec}: ${key} must be one of ${known.values.join(', ')}`);
      settings[key] = value;
    } else {
      const n = Number(value);
      if (value.trim() === '' || !Number.isFinite(n))
        throw new ArmSpecError(`${spec}: ${key}=${value} is not a number`);
      settings[key] = n;
    }
  }
  return { kind, lr, settings };
}

/**
 * How each studio variant is spelled as an arm. The fixed rank k_max has no spelling: its rank is
 * ⌊min(m, n)/4⌋ per matrix, and an arm's kmax is one number.
 */
const VARIANT_ARMS: Partial<Record<ArmVariant, Omit<ArmText, 'lr'>>> = {
  adamw: { kind: 'adamw', settings: {} },
  adafactor: { kind: 'adafactor', settings: { beta1: 0.9 } },
  'adafactor-no-m': { kind: 'adafactor', settings: {} },
  came: { kind: 'came', settings: {} },
  adapprox: { kind: 'adapprox', settings: {} },
  'adapprox-no-m': { kind: 'adapprox', settings: { beta1: 0 } },
  'adapprox-k1': { kind: 'adapprox', settings: { kmin: 1, kmax: 1 } },
  'adapprox-guidance': { kind: 'adapprox', settings: { guidance: 'half' } },
};

const sameSettings = (a: ArmText['settings'], b: ArmText['settings']) =>
  Object.keys(a).length === Object.keys(b).length && Object.entries(a).every(([k, v]) => b[k] === v);

/** The studio's variant that is exactly this arm (same optimizer, same settings), or null. */
export function variantOfArm(arm: ArmText): ArmVariant | null {
  for (const [variant, spelled] of Object.entries(VARIANT_ARMS)) {
    if (spelled.kind === arm.kind && sameSettings(spelled.settings, arm.settings))
      return variant as ArmVariant;
  }
  return null;
}
