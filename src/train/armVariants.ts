// The optimizer studio's menu of arms (docs/algorithms/adapprox.md §4): the four optimizers, and the Adapprox
// variants worth comparing (no first moment, fixed-rank ablations at k = 1 and
// k = k_max, cosine guidance). An arm crosses from the page to the worker as a variant name and a
// learning rate, plain data that survives structured cloning; rank bounds that are functions of a
// matrix's shape cannot, so the worker builds the optimizer's options from the variant here.

import type { OptimizerChoice } from './optim';

export type ArmVariant =
  | 'adamw'
  | 'adafactor'
  | 'adafactor-no-m'
  | 'came'
  | 'adapprox'
  | 'adapprox-no-m'
  | 'adapprox-k1'
  | 'adapprox-kmax'
  | 'adapprox-guidance';

export interface ArmVariantInfo {
  label: string;
  /** What the arm is, in one line (shown beside its checkbox). */
  note: string;
  /** Peak learning rate the studio starts from (CAME wanted a smaller one in our prototype, docs/algorithms/adapprox.md §4). */
  defaultLr: number;
  /** Set where the arm rests on a piece the paper does not give (docs/algorithms/adapprox.md §5), with the section. */
  reconstruction?: string;
}

export const ARM_VARIANTS: Record<ArmVariant, ArmVariantInfo> = {
  adamw: {
    label: 'AdamW',
    note: 'β = (0.9, 0.999), decoupled weight decay; 2 floats per weight',
    defaultLr: 3e-3,
  },
  adafactor: {
    label: 'Adafactor',
    note: 'β1 = 0.9 and an explicit learning rate, as docs/algorithms/adapprox.md §4 sets it up; factored V (m + n)',
    defaultLr: 3e-3,
  },
  'adafactor-no-m': {
    label: 'Adafactor, no first moment (β1 = 0)',
    note: 'Adafactor as published, and the CLI’s default: only the factored V (m + n)',
    defaultLr: 3e-3,
  },
  came: { label: 'CAME', note: 'confidence-guided momentum over Adafactor’s factored V', defaultLr: 1e-3 },
  adapprox: {
    label: 'Adapprox',
    note: 'β1 = 0.9, adaptive rank k ∈ [1, ⌊min(m, n)/4⌋], ξ_thr = 0.03, p = 5, l = 5',
    defaultLr: 3e-3,
    reconstruction: 'rank rule and clamping of Q·Uᵀ (adapprox.md §5.1, §5.3)',
  },
  'adapprox-no-m': {
    label: 'Adapprox, no first moment (β1 = 0)',
    note: 'keeps only the rank-k factors of V: the ≥ 84% saving of the abstract',
    defaultLr: 3e-3,
    reconstruction: 'rank rule and clamping of Q·Uᵀ (adapprox.md §5.1, §5.3)',
  },
  'adapprox-k1': {
    label: 'Adapprox, fixed rank k = 1',
    note: 'ablation: k_min = k_max = 1, the low end of the paper’s memory range',
    defaultLr: 3e-3,
    reconstruction: 'clamping of Q·Uᵀ (adapprox.md §5.3)',
  },
  'adapprox-kmax': {
    label: 'Adapprox, fixed rank k = k_max',
    note: 'ablation: k_min = k_max = ⌊min(m, n)/4⌋, the rank the paper preallocated (adapprox.md §1.1)',
    defaultLr: 3e-3,
    reconstruction: 'clamping of Q·Uᵀ (adapprox.md §5.3)',
  },
  'adapprox-guidance': {
    label: 'Adapprox with cosine guidance',
    note: 's = (1 + c)/2, c the cosine of the momentum and the clipped update',
    defaultLr: 3e-3,
    reconstruction: 'the guidance formula itself was not recovered (adapprox.md §1.7, §5.4)',
  },
};

export const ARM_VARIANT_ORDER = Object.keys(ARM_VARIANTS) as ArmVariant[];

/** An arm as the page sends it: a variant and its peak learning rate; id names it in events and exports. */
export interface ArmChoice {
  id: string;
  variant: ArmVariant;
  lr: number;
}

const kMaxRule = (rows: number, cols: number) => Math.max(1, Math.floor(Math.min(rows, cols) / 4));

export function optimizerOf(variant: ArmVariant): OptimizerChoice {
  switch (variant) {
    case 'adamw':
      return { kind: 'adamw' };
    case 'adafactor':
      return { kind: 'adafactor', options: { beta1: 0.9 } };
    case 'adafactor-no-m':
      return { kind: 'adafactor' };
    case 'came':
      return { kind: 'came' };
    case 'adapprox':
      return { kind: 'adapprox' };
    case 'adapprox-no-m':
      return { kind: 'adapprox', options: { beta1: 0 } };
    case 'adapprox-k1':
      return { kind: 'adapprox', options: { kMin: 1, kMax: 1 } };
    case 'adapprox-kmax':
      return { kind: 'adapprox', options: { kMin: kMaxRule, kMax: kMaxRule } };
    case 'adapprox-guidance':
      return { kind: 'adapprox', options: { guidance: 'half' } };
    default:
      throw new RangeError(
        `unknown optimizer arm ${String(variant)}; choose one of ${ARM_VARIANT_ORDER.join(', ')}`,
      );
  }
}
