// The interface every optimizer in the training loop implements (AdamW, Adafactor, CAME, Adapprox;
// docs/algorithms/), the checks they share, and the typed error for a gradient that holds
// NaN or ±∞. Each optimizer owns its state as GPU buffers in the ledger's 'optimizer' category, so
// the memory chart reads the state bytes from the ledger and stateBytes() must agree with it.

import type { TrackedBuffer } from '../../gpu/ledger';
import type { GpuRuntime } from '../../gpu/runtime';
import type { OptimizerState } from './state';

/** One parameter tensor and its gradient, both rows × cols f32, row-major. */
export interface ParamSlot {
  /** Unique per parameter; the optimizer keys its state by it. */
  name: string;
  /** cols = 1 or rows = 1 marks a vector (bias, norm gain): its second moment is kept dense. */
  rows: number;
  cols: number;
  p: GPUBuffer;
  g: GPUBuffer;
}

export interface StateBytes {
  /** Bytes kept between steps (what the ledger shows in category 'optimizer'). */
  persistent: number;
  /** The largest scratch a step allocates at once (see each optimizer for what it counts). */
  transient: number;
}

export interface Optimizer {
  readonly name: string;
  /** One step for every parameter: p ← update(p, g) with the optimizer's state; lr from the caller's schedule. */
  step(rt: GpuRuntime, params: ParamSlot[], lr: number): Promise<void>;
  /** Persistent state bytes, by the formulas of docs/algorithms/adapprox.md §2 for these shapes (what the ledger must show). */
  stateBytes(): StateBytes;
  /** Everything that determines the next steps, read back to the host (state.ts). */
  exportState(rt: GpuRuntime): Promise<OptimizerState>;
  /**
   * Replaces the state with an exported one, on this runtime (a new device after a lost one):
   * the next step is then the one the exporting optimizer would have taken. Checked against
   * params (state.ts checkImport) before anything is allocated.
   */
  importState(rt: GpuRuntime, state: OptimizerState, params: readonly ParamSlot[]): Promise<void>;
  destroy(): void;
}

export interface NonFiniteCount {
  parameter: string;
  nan: number;
  infinite: number;
  elements: number;
}

/**
 * A gradient held NaN or ±∞. The step is refused before anything is written: no parameter and no
 * optimizer state changed, so the caller can skip the batch, lower the loss scale or stop.
 */
export class NonFiniteGradientError extends Error {
  override name = 'NonFiniteGradientError';
  /** The first offending parameter, in the order the step was given. */
  readonly parameter: string;

  constructor(
    readonly optimizer: string,
    readonly counts: NonFiniteCount[],
  ) {
    const first = counts[0] as NonFiniteCount;
    const list = counts
      .map((c) => `"${c.parameter}" (${c.nan} NaN, ${c.infinite} infinite of ${c.elements})`)
      .join(', ');
    super(
      `${optimizer}: the gradient of ${list} is not finite; the step was not applied and no parameter ` +
        'or optimizer state changed. Check the loss for overflow, lower the learning rate or the loss ' +
        'scale, or clip gradients.',
    );
    this.parameter = first.parameter;
  }
}

export function isVector(slot: { rows: number; cols: number }): boolean {
  return slot.rows === 1 || slot.cols === 1;
}

/** The learning rate of one step: any finite number ≥ 0 (0 is a legal warm-up start). */
export function checkLearningRate(optimizer: string, lr: number): void {
  if (typeof lr !== 'number' || !Number.isFinite(lr) || lr < 0) {
    throw new RangeError(`${optimizer}: the learning rate must be a finite number ≥ 0, got ${lr}`);
  }
}

/** A hyper-parameter in [lo, hi) (or [lo, hi] with closed). */
export function checkRange(
  optimizer: string,
  name: string,
  value: number,
  lo: number,
  hi: number,
  closed = false,
): void {
  const ok = Number.isFinite(value) && value >= lo && (closed ? value <= hi : value < hi);
  if (!ok) {
    throw new RangeError(
      `${optimizer}: ${name} must lie in [${lo}, ${hi}${closed ? ']' : ')'}, got ${value}`,
    );
  }
}

export function checkPositive(optimizer: string, name: string, value: number): void {
  if (!Number.isFinite(value) || !(value > 0)) {
    throw new RangeError(`${optimizer}: ${name} must be a finite number > 0, got ${value}`);
  }
}

/**
 * Checks a step's parameter list before anything is encoded: unique names, positive integer
 * shapes, buffers large enough, and the same shape as when the parameter was first seen.
 */
export function checkParams(
  optimizer: string,
  params: readonly ParamSlot[],
  known: (name: string) => { rows: number; cols: number } | undefined,
): void {
  const seen = new Set<string>();
  for (const slot of params) {
    if (seen.has(slot.name)) throw new RangeError(`${optimizer}: parameter "${slot.name}" is listed twice`);
    seen.add(slot.name);
    for (const [what, value] of [
      ['rows', slot.rows],
      ['cols', slot.cols],
    ] as const) {
      if (!Number.isInteger(value) || value < 1)
        throw new RangeError(`${optimizer}: "${slot.name}" ${what} must be an integer ≥ 1, got ${value}`);
    }
    const bytes = slot.rows * slot.cols * 4;
    for (const [what, buffer] of [
      ['parameter', slot.p],
      ['gradient', slot.g],
    ] as const) {
      if (buffer.size < bytes)
        throw new RangeError(
          `${optimizer}: the ${what} buffer of "${slot.name}" ("${buffer.label}", ${buffer.size} bytes) ` +
            `is smaller than its ${slot.rows}×${slot.cols} f32 shape (${bytes} bytes)`,
        );
    }
    if (slot.p === slot.g) throw new RangeError(`${optimizer}: "${slot.name}" uses one buffer for p and g`);
    const before = known(slot.name);
    if (before && (before.rows !== slot.rows || before.cols !== slot.cols))
      throw new RangeError(
        `${optimizer}: "${slot.name}" was ${before.rows}×${before.cols} when its state was created, ` +
          `now ${slot.rows}×${slot.cols}`,
      );
  }
}

/** Allocates optimizer state (zero-filled, as WebGPU guarantees) in the 'optimizer' category. */
export async function stateBuffer(rt: GpuRuntime, label: string, floats: number): Promise<TrackedBuffer> {
  return rt.createBuffer(label, 'optimizer', floats * 4);
}
