// The optimizers the training loop offers, behind one interface (optimizer.ts). Everything else in
// this folder is internal: shared passes, the factored statistics, S-RSI's CPU pieces.

import { Adafactor, type AdafactorOptions } from './adafactor';
import { AdamW, type AdamWOptions } from './adamw';
import { Adapprox, type AdapproxOptions } from './adapprox';
import { Came, type CameOptions } from './came';
import type { Optimizer } from './optimizer';

export type { AdafactorOptions } from './adafactor';
export { Adafactor } from './adafactor';
export type { AdamWOptions } from './adamw';
export { AdamW } from './adamw';
export type {
  AdapproxDiagnostics,
  AdapproxInspection,
  AdapproxOptions,
  Guidance,
  RankBound,
} from './adapprox';
export { Adapprox } from './adapprox';
export type { CameOptions } from './came';
export { Came } from './came';
export type { NonFiniteCount, Optimizer, ParamSlot, StateBytes } from './optimizer';
export { NonFiniteGradientError } from './optimizer';

export type OptimizerChoice =
  | { kind: 'adamw'; options?: AdamWOptions }
  | { kind: 'adafactor'; options?: AdafactorOptions }
  | { kind: 'came'; options?: CameOptions }
  | { kind: 'adapprox'; options?: AdapproxOptions };

export function createOptimizer(choice: OptimizerChoice): Optimizer {
  switch (choice.kind) {
    case 'adamw':
      return new AdamW(choice.options);
    case 'adafactor':
      return new Adafactor(choice.options);
    case 'came':
      return new Came(choice.options);
    case 'adapprox':
      return new Adapprox(choice.options);
    default:
      throw new RangeError(`unknown optimizer ${(choice as { kind: string }).kind}`);
  }
}
