// An optimizer's state on the host: what a training job checkpoints so that a run can continue on a
// new device after the old one is lost. Every optimizer keeps its state as GPU buffers (optimizer.ts);
// a lost device takes them with it, so at each validation the job copies them here, and a new
// optimizer on the new device is filled from the copy. The copies are the buffers' bytes read back
// as float32, never recomputed, so the continued run steps from exactly the state it left.

import type { TrackedBuffer } from '../../gpu/ledger';
import type { GpuRuntime } from '../../gpu/runtime';
import { type Optimizer, type ParamSlot, type StateBytes, stateBuffer } from './optimizer';

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

/** A state buffer an optimizer keeps for a parameter: its ledger label and length. */
export interface BufferSpec {
  label: string;
  floats: number;
}

/** One parameter's state: its shape, the steps it has taken, and its buffers by name. */
export type HeldState<B> = { rows: number; cols: number; t: number } & B;

/**
 * The state buffers of every parameter an optimizer has stepped, allocated on first use from the
 * optimizer's layout (which buffers a parameter of this shape keeps), and exported, imported and
 * destroyed as one. Why one place: AdamW, Adafactor and CAME differ only in the layout, and an
 * import must treat each of them alike (checked first, dropped whole when one buffer fails).
 */
export class StateBuffers<B extends { [key: string]: TrackedBuffer | undefined }> {
  private readonly held = new Map<string, HeldState<B>>();

  constructor(
    private readonly optimizer: string,
    /** The buffers a parameter keeps, by the names of B; a name it does not keep is left out. */
    private readonly layout: (p: { name: string; rows: number; cols: number }) => Record<string, BufferSpec>,
  ) {}

  get(name: string): HeldState<B> | undefined {
    return this.held.get(name);
  }

  values(): IterableIterator<HeldState<B>> {
    return this.held.values();
  }

  /** The parameter's state, allocated (zero-filled, step 0) the first time it is asked for. */
  async of(rt: GpuRuntime, slot: ParamSlot): Promise<HeldState<B>> {
    let state = this.held.get(slot.name);
    if (state) return state;
    const buffers: Record<string, TrackedBuffer> = {};
    for (const [key, b] of Object.entries(this.layout(slot)))
      buffers[key] = await stateBuffer(rt, b.label, b.floats);
    state = { rows: slot.rows, cols: slot.cols, t: 0, ...buffers } as HeldState<B>;
    this.held.set(slot.name, state);
    return state;
  }

  async export(rt: GpuRuntime): Promise<OptimizerState> {
    const params = [];
    for (const [name, s] of this.held) {
      const buffers = await readBuffers(rt, this.buffersOf(name, s));
      params.push({ name, rows: s.rows, cols: s.cols, t: s.t, buffers });
    }
    return { optimizer: this.optimizer, params };
  }

  /** Replaces every state with the exported one (see checkImport and restoreBuffers). */
  async import(rt: GpuRuntime, state: OptimizerState, params: readonly ParamSlot[]): Promise<void> {
    const wanted = checkImport(this.optimizer, state, params);
    this.destroy();
    // A state that fails part-way is dropped whole: no parameter steps from a mix of states.
    try {
      for (const [name, p] of wanted) {
        const buffers = await restoreBuffers(rt, this.optimizer, p, this.layout(p));
        this.held.set(name, { rows: p.rows, cols: p.cols, t: p.t, ...buffers } as HeldState<B>);
      }
    } catch (error) {
      this.destroy();
      throw error;
    }
  }

  destroy(): void {
    for (const [name, s] of this.held) for (const b of Object.values(this.buffersOf(name, s))) b?.destroy();
    this.held.clear();
  }

  /** A held state's buffers, by the layout's names for them. */
  private buffersOf(name: string, s: HeldState<B>): Record<string, TrackedBuffer | undefined> {
    const out: Record<string, TrackedBuffer | undefined> = {};
    for (const key of Object.keys(this.layout({ name, rows: s.rows, cols: s.cols })))
      out[key] = (s as Record<string, unknown>)[key] as TrackedBuffer | undefined;
    return out;
  }
}

/**
 * An optimizer whose whole state is StateBuffers (AdamW, Adafactor, CAME): it exports, imports and
 * destroys them, and counts their bytes as the ledger does from what each parameter keeps.
 */
export abstract class BufferedOptimizer<B extends { [key: string]: TrackedBuffer | undefined }>
  implements Optimizer
{
  abstract readonly name: string;
  protected abstract readonly states: StateBuffers<B>;

  abstract step(rt: GpuRuntime, params: ParamSlot[], lr: number): Promise<void>;

  /** The floats a parameter's state keeps, by the optimizer's formula (which the ledger must agree with). */
  protected abstract floatsOf(state: HeldState<B>): number;

  stateBytes(): StateBytes {
    let floats = 0;
    for (const s of this.states.values()) floats += this.floatsOf(s);
    return { persistent: 4 * floats, transient: 0 };
  }

  exportState(rt: GpuRuntime): Promise<OptimizerState> {
    return this.states.export(rt);
  }

  importState(rt: GpuRuntime, state: OptimizerState, params: readonly ParamSlot[]): Promise<void> {
    return this.states.import(rt, state, params);
  }

  destroy(): void {
    this.states.destroy();
  }
}
