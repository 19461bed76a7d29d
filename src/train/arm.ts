// One arm of a training comparison: a model's weights and gradients on the GPU and the optimizer
// that updates them. A step runs the batch window by window (forward that saves activations,
// backward that accumulates each window's gradient scaled by 1/batch, so the sum is the gradient
// of the batch's mean loss), then one optimizer step. Activation memory is therefore one window's,
// whatever the batch.

import type { TrackedBuffer } from '../gpu/ledger';
import { type WorkCounters, WorkMeter } from '../gpu/meter';
import type { GpuRuntime } from '../gpu/runtime';
import type { ModelConfig } from '../model/config';
import { canonicalTensors, memoryWeightSource, type WeightSource } from '../model/weights';
import type { Window } from './data';
import { modelBackward } from './modelBackward';
import { Adapprox, createOptimizer, type Optimizer, type OptimizerChoice, type ParamSlot } from './optim';
import type { OptimizerState } from './optim/state';
import { lossOf, trainForward } from './trainForward';

export interface StepResult {
  /** Mean next-token loss over the batch, before the update. */
  loss: number;
  /** Forward and backward of every window, then the optimizer, each waited for on the GPU. */
  modelMs: number;
  optimizerMs: number;
  /** The most bytes the optimizer step held in scratch at once, measured by the ledger. */
  optimizerTransientBytes: number;
  /** What the whole step asked of the GPU (forward, backward and optimizer), and the optimizer alone. */
  counters: WorkCounters;
  optimizerCounters: WorkCounters;
  /**
   * With `profileOptimizer` (and timestamp queries): the optimizer's GPU ms per kernel (pipeline
   * label). Timing every pass slows the step, so a profiled step's times are not comparable.
   */
  optimizerGpuMsByKernel?: Map<string, number>;
}

export class TrainArm {
  private constructor(
    readonly config: ModelConfig,
    readonly optimizer: Optimizer,
    private readonly weights: Map<string, TrackedBuffer>,
    private readonly grads: Map<string, TrackedBuffer>,
    private readonly slots: ParamSlot[],
  ) {}

  /** Uploads the starting weights and allocates one gradient per tensor. */
  static async create(
    rt: GpuRuntime,
    config: ModelConfig,
    start: Map<string, Float32Array>,
    choice: OptimizerChoice,
    label: string,
  ): Promise<TrainArm> {
    const weights = new Map<string, TrackedBuffer>();
    const grads = new Map<string, TrackedBuffer>();
    const optimizer = createOptimizer(choice);
    if (optimizer instanceof Adapprox) {
      optimizer.checkShapes(
        canonicalTensors(config).map((t) => ({
          name: t.name,
          rows: t.shape.length === 2 ? (t.shape[0] as number) : 1,
          cols: t.shape.length === 2 ? (t.shape[1] as number) : (t.shape[0] as number),
        })),
      );
    }
    try {
      const slots: ParamSlot[] = [];
      for (const t of canonicalTensors(config)) {
        const data = start.get(t.name);
        if (!data) throw new Error(`the starting weights have no tensor ${t.name}`);
        const w = await rt.upload(`${label} ${t.name}`, 'weights', data);
        weights.set(t.name, w);
        const g = await rt.createBuffer(`${label} d${t.name}`, 'gradients', data.byteLength);
        grads.set(t.name, g);
        // Matrices are rows × cols as stored (out × in); vectors are one row.
        const [rows, cols] = t.shape.length === 2 ? (t.shape as [number, number]) : [1, t.shape[0] as number];
        slots.push({ name: t.name, rows, cols, p: w.buffer, g: g.buffer });
      }
      return new TrainArm(config, optimizer, weights, grads, slots);
    } catch (error) {
      for (const b of [...weights.values(), ...grads.values()]) b.destroy();
      optimizer.destroy();
      throw error;
    }
  }

  /**
   * One training step at learning rate lr. The optimizer refuses a non-finite gradient before it
   * writes anything (NonFiniteGradientError), so after a refused step the weights and the optimizer
   * state are still those of the last good step.
   */
  async step(
    rt: GpuRuntime,
    batch: readonly Window[],
    lr: number,
    options: { profileOptimizer?: boolean } = {},
  ): Promise<StepResult> {
    const t0 = performance.now();
    const whole = WorkMeter.start(rt);
    let sum = 0;
    let count = 0;
    for (const [i, w] of batch.entries()) {
      const saved = await trainForward(rt, this.config, this.lookup, w.ids, w.targets);
      try {
        const loss = await lossOf(rt, saved);
        sum += loss.sum / loss.count;
        count++;
        await modelBackward(rt, this.lookup, this.gradLookup, saved, {
          accumulate: i > 0,
          scale: 1 / batch.length,
        });
      } finally {
        saved.free();
      }
    }
    await rt.sync();
    const t1 = performance.now();
    const optimizer = WorkMeter.start(rt);
    rt.ledger.resetPeakIn('optimizer-transient');
    const profiling = options.profileOptimizer === true && rt.startProfile();
    await this.optimizer.step(rt, this.slots, lr);
    await rt.sync();
    const optimizerMs = performance.now() - t1;
    const profile = profiling ? await rt.stopProfile() : undefined;
    return {
      ...(profile ? { optimizerGpuMsByKernel: new Map([...profile].map(([k, ns]) => [k, ns / 1e6])) } : {}),
      loss: sum / count,
      modelMs: t1 - t0,
      optimizerMs,
      optimizerTransientBytes: rt.ledger.peakIn('optimizer-transient'),
      counters: await whole.read(),
      optimizerCounters: await optimizer.read(),
    };
  }

  /** Mean next-token loss over the windows, with the current weights. */
  async evaluate(rt: GpuRuntime, windows: readonly Window[]): Promise<number> {
    let sum = 0;
    let count = 0;
    for (const w of windows) {
      const saved = await trainForward(rt, this.config, this.lookup, w.ids, w.targets);
      try {
        const loss = await lossOf(rt, saved);
        sum += loss.sum;
        count += loss.count;
      } finally {
        saved.free();
      }
    }
    return sum / count;
  }

  /** The current weights, read back (a checkpoint, or what an export writes). */
  async snapshot(rt: GpuRuntime): Promise<Map<string, Float32Array>> {
    const out = new Map<string, Float32Array>();
    for (const [name, w] of this.weights) out.set(name, await rt.readF32(w.buffer));
    return out;
  }

  /** The optimizer's state, read back (a checkpoint's, with the weights of the same step). */
  exportOptimizer(rt: GpuRuntime): Promise<OptimizerState> {
    return this.optimizer.exportState(rt);
  }

  /** Replaces the optimizer's state with a checkpoint's (on a new device, beside that step's weights). */
  importOptimizer(rt: GpuRuntime, state: OptimizerState): Promise<void> {
    return this.optimizer.importState(rt, state, this.slots);
  }

  async weightSource(rt: GpuRuntime, description: string): Promise<WeightSource> {
    return memoryWeightSource(this.config, await this.snapshot(rt), description);
  }

  destroy(): void {
    for (const b of [...this.weights.values(), ...this.grads.values()]) b.destroy();
    this.optimizer.destroy();
  }

  private readonly lookup = (name: string) => this.weights.get(name)?.buffer;
  private readonly gradLookup = (name: string) => this.grads.get(name)?.buffer;
}
