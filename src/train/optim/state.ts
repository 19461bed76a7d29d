// An optimizer's state on the host: what a training job checkpoints so that a run can continue on a
// new device after the old one is lost. Every optimizer keeps its state as GPU buffers (optimizer.ts);
// a lost device takes them with it, so at each validation the job copies them here, and a new
// optimizer on the new device is filled from the copy. The copies are the buffers' bytes read back
// as float32, never recomputed, so the continued run steps from exactly the state it left.

import type { TrackedBuffer } from '../../gpu/ledger';
import type { GpuRuntime } from '../../gpu/runtime';
import { type ParamSlot, stateBuffer } from './optimizer';

/** One parameter's state. */
export interface ParamState {
  name: string;
  rows: number;
  cols: number;
  /**
   * Steps this parameter has taken: the bias corrections (AdamW), β2,t (Adafactor) and the
   * counter-based seed of Adapprox's sketch (seed, parameter, t) all follow it.
   */
  t: number;
  /** Each state buffer's contents (exact float32 copies), by the optimizer's name for the buffer. */
  buffers: Record<string, Float32Array>;
  /** Adapprox's factored matrices: the current rank k and the factors' row stride. */
  rank?: { k: number; stride: number };
}

export interface OptimizerState {
  /** The optimizer's name (Optimizer.name): a state is imported only into the same kind. */
  optimizer: string;
  params: ParamState[];
}

/** Reads the named buffers back (absent ones are left out). */
export async function readBuffers(
  rt: GpuRuntime,
  buffers: Record<string, TrackedBuffer | undefined>,
): Promise<Record<string, Float32Array>> {
  const out: Record<string, Float32Array> = {};
  for (const [key, tracked] of Object.entries(buffers))
    if (tracked) out[key] = await rt.readF32(tracked.buffer, 0, tracked.buffer.size);
  return out;
}

/**
 * Checks a state against the parameters it is to be imported for, before anything is allocated:
 * the same optimizer, and every state's parameter present with the same shape. Returns the states
 * by parameter name. A parameter without a state (it had taken no step) starts fresh.
 */
export function checkImport(
  optimizer: string,
  state: OptimizerState,
  params: readonly ParamSlot[],
): Map<string, ParamState> {
  if (state.optimizer !== optimizer)
    throw new RangeError(`${optimizer}: cannot import the state of ${state.optimizer}`);
  const slots = new Map(params.map((p) => [p.name, p]));
  const out = new Map<string, ParamState>();
  for (const p of state.params) {
    const slot = slots.get(p.name);
    if (!slot)
      throw new RangeError(`${optimizer}: the state names "${p.name}", which is not a parameter here`);
    if (slot.rows !== p.rows || slot.cols !== p.cols)
      throw new RangeError(
        `${optimizer}: "${p.name}" is ${slot.rows}×${slot.cols} here but ${p.rows}×${p.cols} in the state`,
      );
    if (!Number.isInteger(p.t) || p.t < 0)
      throw new RangeError(`${optimizer}: "${p.name}" has step count ${p.t} in the state`);
    if (out.has(p.name)) throw new RangeError(`${optimizer}: the state lists "${p.name}" twice`);
    out.set(p.name, p);
  }
  return out;
}

/**
 * The parameter's state buffers, allocated and filled from the state's copies: `want` names each
 * buffer this optimizer keeps for the parameter with its label and length. The copies must be
 * exactly those buffers, each exactly that long (a state taken with other settings, such as
 * another β1, has other buffers). Nothing stays allocated when one does not fit.
 */
export async function restoreBuffers<K extends string>(
  rt: GpuRuntime,
  optimizer: string,
  p: ParamState,
  want: Record<K, { label: string; floats: number }>,
): Promise<Record<K, TrackedBuffer>> {
  const keys = Object.keys(want) as K[];
  const have = Object.keys(p.buffers);
  const missing = keys.filter((k) => !(k in p.buffers));
  const extra = have.filter((k) => !(k in want));
  if (missing.length || extra.length)
    throw new RangeError(
      `${optimizer}: the state of "${p.name}" holds ${have.join(', ') || 'no buffers'} but this optimizer keeps ` +
        `${keys.join(', ') || 'none'} for it (was it taken with other settings?)`,
    );
  for (const k of keys) {
    const data = p.buffers[k] as Float32Array;
    if (data.length !== want[k].floats)
      throw new RangeError(
        `${optimizer}: the state's ${k} of "${p.name}" holds ${data.length} floats, expected ${want[k].floats}`,
      );
  }
  const out = {} as Record<K, TrackedBuffer>;
  try {
    for (const k of keys) {
      const tracked = await stateBuffer(rt, want[k].label, want[k].floats);
      out[k] = tracked;
      rt.write(tracked.buffer, p.buffers[k] as Float32Array);
    }
  } catch (error) {
    for (const b of Object.values<TrackedBuffer>(out)) b.destroy();
    throw error;
  }
  return out;
}
