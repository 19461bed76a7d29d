// The optimizer studio's chart rows, built from the run's state: pure, so what the charts show is
// tested without a page. A long run has thousands of steps per arm; a chart cannot show more
// points than it has pixels, so the per-step series are thinned to an even stride (the last point
// always kept), while validation points, which are few and the ones that matter, are all kept.

import type { SecondMomentSpectrum } from '../../train/job';
import type { StateBytes } from '../../train/optim/index';
import type { ArmTrace, RankTrace } from './trainReducer';

/** Points per series a line chart draws at most. */
const MAX_POINTS = 400;

/** Indices 0…n−1 at an even stride so that at most `max` remain, the last one included. */
export function thinIndices(n: number, max = MAX_POINTS): number[] {
  if (n <= max) return Array.from({ length: n }, (_, i) => i);
  const stride = Math.ceil(n / max);
  const out: number[] = [];
  for (let i = 0; i < n; i += stride) out.push(i);
  if (out[out.length - 1] !== n - 1) out.push(n - 1);
  return out;
}

function thin<T>(items: readonly T[], max = MAX_POINTS): T[] {
  return thinIndices(items.length, max).map((i) => items[i] as T);
}

/** What the loss chart reads of an arm: a live run's trace, or one read back from a run record. */
export type LossCurves = Pick<ArmTrace, 'id' | 'label' | 'train' | 'validation'>;

/** What the state-bytes chart reads of an arm (a record keeps only the persistent bytes for sure). */
export interface ArmState {
  id: string;
  label: string;
  state: Pick<StateBytes, 'persistent'> | null;
}

/** Keys of an arm's two series in the loss rows. */
export const lossKey = (arm: string, kind: 'train' | 'val') => `${arm}:${kind}`;

/** One row per step that any arm reported: each arm's training loss (thinned) and validation loss. */
export function lossRows(arms: readonly LossCurves[]): Record<string, number>[] {
  const rows = new Map<number, Record<string, number>>();
  const put = (step: number, key: string, value: number) => {
    const row = rows.get(step) ?? { step };
    row[key] = value;
    rows.set(step, row);
  };
  for (const a of arms) {
    for (const [step, loss] of thin(a.train)) put(step, lossKey(a.id, 'train'), loss);
    for (const [step, loss] of a.validation) put(step, lossKey(a.id, 'val'), loss);
  }
  return [...rows.values()].sort((x, y) => (x.step as number) - (y.step as number));
}

/** Tokens per second per step, one column per arm (thinned). */
export function speedRows(arms: readonly ArmTrace[]): Record<string, number>[] {
  const rows = new Map<number, Record<string, number>>();
  for (const a of arms)
    for (const [step, tps] of thin(a.tokensPerSecond)) {
      const row = rows.get(step) ?? { step };
      row[a.id] = tps;
      rows.set(step, row);
    }
  return [...rows.values()].sort((x, y) => (x.step as number) - (y.step as number));
}

export interface MemoryRow {
  id: string;
  label: string;
  /** Persistent optimizer state as the arm's last step reported it (the ledger's bytes). */
  bytes: number;
  /** 1 − bytes / AdamW's analytical bytes. */
  saved: number;
  analytical: boolean;
}

/** AdamW keeps two f32 moments per parameter: 2 · 4 · P bytes (docs/algorithms/adamw.md §2). */
export function adamwBytes(parameters: number): number {
  return 2 * 4 * parameters;
}

/** Each arm that has stepped, then AdamW's bytes by the formula for comparison. */
export function memoryRows(arms: readonly ArmState[], parameters: number): MemoryRow[] {
  const reference = adamwBytes(parameters);
  const rows: MemoryRow[] = arms.flatMap((a) =>
    a.state
      ? [
          {
            id: a.id,
            label: a.label,
            bytes: a.state.persistent,
            saved: 1 - a.state.persistent / reference,
            analytical: false,
          },
        ]
      : [],
  );
  rows.push({
    id: 'adamw-formula',
    label: 'AdamW, 2·4·P (formula)',
    bytes: reference,
    saved: 0,
    analytical: true,
  });
  return rows;
}

export interface TimeRow {
  id: string;
  label: string;
  /** Mean milliseconds per step: forward and backward of the batch, and the optimizer step. */
  modelMs: number;
  optimizerMs: number;
  /** The optimizer's share of the step. */
  share: number;
}

export function timeRows(arms: readonly ArmTrace[]): TimeRow[] {
  return arms.flatMap((a) => {
    const n = a.train.length;
    if (n === 0) return [];
    const modelMs = a.modelMs / n;
    const optimizerMs = a.optimizerMs / n;
    return [{ id: a.id, label: a.label, modelMs, optimizerMs, share: optimizerMs / (modelMs + optimizerMs) }];
  });
}

/** Relative error of each matrix per step (thinned), for one Adapprox arm. */
export function errorRows(trace: RankTrace): Record<string, number>[] {
  return thinIndices(trace.steps.length).map((s) => {
    const row: Record<string, number> = { step: trace.steps[s] as number };
    trace.names.forEach((name, i) => {
      const e = trace.error[s]?.[i];
      // A log axis cannot place 0 (a full-rank fit); the gap says so.
      if (e !== undefined && e > 0) row[name] = e;
    });
    return row;
  });
}

/** The singular values, 1-based, positive ones only (a log axis). */
export function spectrumRows(s: SecondMomentSpectrum): { index: number; sigma: number }[] {
  return s.singularValues.flatMap((sigma, i) => (sigma > 0 ? [{ index: i + 1, sigma }] : []));
}

/** Error against rank k: the exact truncation error (Eckart–Young) and the sketch's ξ_k. */
export function truncationRows(s: SecondMomentSpectrum): { k: number; exact?: number; sketch?: number }[] {
  const n = Math.max(s.exactErrors.length, s.sketchErrors.length);
  return Array.from({ length: n }, (_, k) => {
    const row: { k: number; exact?: number; sketch?: number } = { k };
    const exact = s.exactErrors[k];
    const sketch = s.sketchErrors[k];
    if (exact !== undefined && exact > 0) row.exact = exact;
    if (sketch !== undefined && sketch > 0) row.sketch = sketch;
    return row;
  });
}
