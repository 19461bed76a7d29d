// What a kernel-suite case is (suite.ts): a kernel run once on fresh random inputs, checked against
// its float64 reference within a stated bound, then timed. Parts above the kernels (the pruning
// masks in src/prune) define their own cases with these pieces, and the worker's kernel check runs
// them together with the kernels' own.

import type { GpuRuntime } from '../gpu/runtime';
import { Random } from './random';
import { type Reference, relativeError } from './reference';

export type KernelFamily =
  | 'matmul'
  | 'matvec'
  | 'gram'
  | 'elementwise'
  | 'reduce'
  | 'transpose'
  | 'embedding'
  | 'norm'
  | 'rope'
  | 'attention'
  | 'activation'
  | 'crossEntropy'
  | 'mask'
  | 'sparse';

export interface KernelCaseResult {
  name: string;
  family: KernelFamily;
  shape: string;
  seed: number;
  passed: boolean;
  /** max |gpu − ref| / scale (see reference.ts). */
  error: number;
  /** The bound the error must stay within. */
  bound: number;
  /** Median time of the timed runs, after the checked run compiled the pipeline. */
  ms: number;
  flops: number;
  /** The fewest bytes the kernel must move: each input read once, each output written once. */
  bytes: number;
  gflops: number;
  gbps: number;
  /** Set when the case threw instead of returning a result. */
  failure?: string;
}

export interface KernelCase {
  name: string;
  family: KernelFamily;
  shape: string;
  run(rt: GpuRuntime, seed: number, timedRuns: number): Promise<KernelCaseResult>;
}

export interface Execution {
  /** Runs the kernel once on freshly poisoned outputs and reads the result back. */
  check(): Promise<Float32Array>;
  /** Encodes and submits one more run without reading back (for timing). */
  again(): Promise<void>;
  reference: Reference;
  bound: number;
  flops: number;
  bytes: number;
  free(): void;
}

export function defineCase(
  name: string,
  family: KernelFamily,
  shape: string,
  prepare: (rt: GpuRuntime, random: Random) => Promise<Execution>,
): KernelCase {
  return {
    name,
    family,
    shape,
    async run(rt, seed, timedRuns) {
      const base = { name, family, shape, seed };
      let execution: Execution | undefined;
      try {
        execution = await prepare(rt, new Random(seed));
        const gpu = await execution.check();
        const error = relativeError(gpu, execution.reference);
        const times: number[] = [];
        for (let i = 0; i < timedRuns; i++) {
          const start = performance.now();
          await execution.again();
          await rt.sync();
          times.push(performance.now() - start);
        }
        times.sort((a, b) => a - b);
        const ms = times.length ? (times[Math.floor(times.length / 2)] as number) : Number.NaN;
        return {
          ...base,
          passed: error <= execution.bound,
          error,
          bound: execution.bound,
          ms,
          flops: execution.flops,
          bytes: execution.bytes,
          gflops: execution.flops / (ms * 1e6),
          gbps: execution.bytes / (ms * 1e6),
        };
      } catch (error) {
        const failed = { passed: false, error: Number.NaN, bound: Number.NaN, ms: Number.NaN };
        return { ...base, ...failed, flops: 0, bytes: 0, gflops: 0, gbps: 0, failure: String(error) };
      } finally {
        execution?.free();
      }
    },
  };
}

/** Uploads data and tracks the buffers for freeing. */
export class Buffers {
  private readonly held: { destroy(): void }[] = [];
  constructor(private readonly rt: GpuRuntime) {}

  async upload(label: string, data: Float32Array): Promise<GPUBuffer> {
    const tracked = await this.rt.upload(`kernel check ${label}`, 'scratch', data);
    this.held.push(tracked);
    return tracked.buffer;
  }

  free(): void {
    for (const b of this.held) b.destroy();
  }
}

/** u32 data through the f32 upload: the bytes are written as they are, only the view's type differs. */
export function u32Bytes(data: Uint32Array): Float32Array {
  return new Float32Array(data.buffer, data.byteOffset, data.length);
}
