// The kernel suite: every kernel family on fresh random inputs with awkward shapes, checked against
// its float64 reference with a stated bound, and timed. The studio's "kernel check" runs it on the
// user's GPU in the worker, and the Vitest rig runs the same cases, so there is one definition of
// "the kernels are correct".

import type { GpuRuntime } from '../gpu/runtime';
import { axpy, scale, softThreshold } from './elementwise';
import { accumulateGram } from './gram';
import { matmul } from './matmul';
import { Random } from './random';
import { type ReduceOp, reduce, reductionDepth } from './reduce';
import {
  axpyReference,
  F32_EPS,
  gramReference,
  matmulReference,
  type Reference,
  reduceReference,
  relativeError,
  scaleReference,
  softThresholdReference,
  transposeReference,
} from './reference';
import { transpose } from './transpose';

export type KernelFamily = 'matmul' | 'gram' | 'elementwise' | 'reduce' | 'transpose';

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

interface Execution {
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

function defineCase(
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

const NAN_POISON = Number.NaN;

/** Uploads data and tracks the buffers for freeing. */
class Buffers {
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

function matmulCase(
  m: number,
  n: number,
  k: number,
  transA: boolean,
  transB: boolean,
  withBeta: boolean,
): KernelCase {
  const layout = `${transA ? 'Aᵀ' : 'A'}·${transB ? 'Bᵀ' : 'B'}`;
  return defineCase(
    `matmul ${layout}${withBeta ? ' (α, β)' : ''}`,
    'matmul',
    `${m}×${k} · ${k}×${n}`,
    async (rt, random) => {
      const buffers = new Buffers(rt);
      const a = random.uniform(m * k);
      const b = random.uniform(k * n);
      const c0 = withBeta ? random.uniform(m * n) : new Float32Array(m * n).fill(NAN_POISON);
      const alpha = withBeta ? Math.fround(0.5 + random.next()) : 1;
      const beta = withBeta ? Math.fround(-0.75) : 0;
      const aBuf = await buffers.upload('A', a);
      const bBuf = await buffers.upload('B', b);
      const cBuf = await buffers.upload('C', c0);
      const run = () => matmul(rt, { a: aBuf, b: bBuf, c: cBuf, m, n, k, transA, transB, alpha, beta });
      return {
        async check() {
          rt.write(cBuf, c0);
          await run();
          return rt.readF32(cBuf);
        },
        again: run,
        reference: matmulReference({ a, b, c0, m, n, k, transA, transB, alpha, beta }),
        // Each element is a k-term dot product plus the alpha/beta update: (k + 2) roundings.
        bound: (k + 2) * F32_EPS,
        flops: 2 * m * n * k,
        bytes: 4 * (m * k + k * n + m * n * (withBeta ? 2 : 1)),
        free: () => buffers.free(),
      };
    },
  );
}

function gramCase(rows: number, width: number): KernelCase {
  return defineCase('gram G += XᵀX', 'gram', `X ${rows}×${width}`, async (rt, random) => {
    const buffers = new Buffers(rt);
    const x = random.uniform(rows * width);
    const g0 = random.uniform(width * width);
    const xBuf = await buffers.upload('X', x);
    const gBuf = await buffers.upload('G', g0);
    const run = () => accumulateGram(rt, { x: xBuf, rows, width, g: gBuf });
    return {
      async check() {
        rt.write(gBuf, g0);
        await run();
        return rt.readF32(gBuf);
      },
      again: run,
      reference: gramReference(x, rows, width, g0),
      bound: (rows + 2) * F32_EPS,
      // The symmetric kernel does about half of this; the count is of the product it delivers.
      flops: 2 * rows * width * width,
      bytes: 4 * (rows * width + 2 * width * width),
      free: () => buffers.free(),
    };
  });
}

type ElementwiseOp = 'axpy' | 'scale' | 'soft-threshold';

function elementwiseCase(op: ElementwiseOp, n: number): KernelCase {
  return defineCase(op, 'elementwise', `n = ${n}`, async (rt, random) => {
    const buffers = new Buffers(rt);
    const x = random.uniform(n);
    const y0 = random.uniform(n);
    const a = Math.fround(random.next() * 2 - 1);
    const tau = Math.fround(random.next() * 0.5);
    const xBuf = await buffers.upload('x', x);
    const yBuf = await buffers.upload('y', y0);
    const target = op === 'scale' ? xBuf : yBuf;
    const run = () => {
      if (op === 'axpy') return axpy(rt, n, a, { buffer: xBuf }, { buffer: yBuf });
      if (op === 'scale') return scale(rt, n, a, { buffer: xBuf });
      return softThreshold(rt, n, tau, { buffer: xBuf }, { buffer: yBuf });
    };
    const reference =
      op === 'axpy'
        ? axpyReference(a, x, y0)
        : op === 'scale'
          ? scaleReference(a, x)
          : softThresholdReference(tau, x);
    return {
      async check() {
        rt.write(xBuf, x);
        // Soft-threshold must overwrite every element, so its output starts as NaN.
        rt.write(yBuf, op === 'soft-threshold' ? new Float32Array(n).fill(NAN_POISON) : y0);
        await run();
        return rt.readF32(target);
      },
      again: run,
      reference,
      // One rounding for scale and soft-threshold; an unfused axpy rounds a·x and then the sum, an
      // error of at most u·|a·x| + u·(1 + u)·(|a·x| + |y|) ≤ (2u + u²)·scale.
      bound: 2 * F32_EPS + F32_EPS ** 2,
      flops: op === 'axpy' ? 2 * n : n,
      bytes: 4 * n * (op === 'scale' ? 2 : op === 'axpy' ? 3 : 2),
      free: () => buffers.free(),
    };
  });
}

function reduceCase(op: ReduceOp, n: number, integers: boolean): KernelCase {
  const label = integers ? `${op} (exact integers)` : op;
  return defineCase(label, 'reduce', `n = ${n}`, async (rt, random) => {
    const buffers = new Buffers(rt);
    // Small integers make every partial sum exact in f32, so the GPU must match the reference
    // exactly: a skipped or doubled element cannot hide inside the rounding bound.
    const x = integers ? random.integers(n, 8) : random.uniform(n);
    const xBuf = await buffers.upload('x', x);
    const outBuf = await buffers.upload('out', new Float32Array([NAN_POISON]));
    const run = () => reduce(rt, op, n, { buffer: xBuf }, { buffer: outBuf });
    return {
      async check() {
        rt.write(outBuf, new Float32Array([NAN_POISON]));
        await run();
        return rt.readF32(outBuf, 0, 4);
      },
      again: run,
      reference: reduceReference(op, x),
      bound: integers || op === 'maxabs' ? 0 : (reductionDepth(rt, n) + 1) * F32_EPS,
      flops: op === 'sumsq' ? 2 * n : n,
      bytes: 4 * (n + 1),
      free: () => buffers.free(),
    };
  });
}

function transposeCase(rows: number, cols: number): KernelCase {
  return defineCase('transpose', 'transpose', `${rows}×${cols}`, async (rt, random) => {
    const buffers = new Buffers(rt);
    const x = random.uniform(rows * cols);
    const poison = new Float32Array(rows * cols).fill(NAN_POISON);
    const inBuf = await buffers.upload('in', x);
    const outBuf = await buffers.upload('out', poison);
    const run = () => transpose(rt, { input: inBuf, output: outBuf, rows, cols });
    return {
      async check() {
        rt.write(outBuf, poison);
        await run();
        return rt.readF32(outBuf);
      },
      again: run,
      reference: transposeReference(x, rows, cols),
      bound: 0,
      flops: 0,
      bytes: 8 * rows * cols,
      free: () => buffers.free(),
    };
  });
}

/**
 * The cases. 'check' is what the studio and the tests run: awkward shapes (1, primes, sizes that do
 * not divide the 64-wide tile) small enough for a CPU adapter. 'tiled' is smaller still, for runs
 * under a deliberately tiny binding limit, where every case splits into many windows.
 */
export function kernelSuite(size: 'check' | 'tiled' = 'check'): KernelCase[] {
  if (size === 'tiled') {
    return [
      matmulCase(37, 29, 41, false, false, false),
      matmulCase(23, 31, 19, false, true, true),
      matmulCase(29, 17, 33, true, false, false),
      gramCase(53, 27),
      gramCase(5, 70),
      elementwiseCase('axpy', 3001),
      elementwiseCase('scale', 2999),
      elementwiseCase('soft-threshold', 1031),
      reduceCase('sum', 5003, true),
      reduceCase('sumsq', 4099, false),
      reduceCase('maxabs', 3001, false),
      transposeCase(31, 45),
    ];
  }
  return [
    matmulCase(1, 1, 1, false, false, false),
    matmulCase(67, 45, 83, false, false, false),
    matmulCase(128, 97, 64, false, true, false),
    matmulCase(61, 130, 7, true, false, true),
    matmulCase(70, 33, 129, false, true, true),
    matmulCase(256, 256, 256, false, false, false),
    gramCase(1, 1),
    gramCase(200, 131),
    gramCase(300, 64),
    elementwiseCase('axpy', 100_003),
    elementwiseCase('scale', 65_537),
    elementwiseCase('soft-threshold', 100_003),
    reduceCase('sum', 1, false),
    reduceCase('sum', 300_007, false),
    reduceCase('sum', 2049, true),
    reduceCase('sumsq', 100_003, false),
    reduceCase('maxabs', 65_537, false),
    transposeCase(1, 1),
    transposeCase(37, 129),
    transposeCase(256, 255),
  ];
}

export interface SuiteProgress {
  done: number;
  total: number;
  result: KernelCaseResult;
}

/** Runs cases in order; stops early when the signal is aborted. */
export async function runKernelSuite(
  rt: GpuRuntime,
  cases: readonly KernelCase[],
  options: {
    seed: number;
    timedRuns?: number;
    signal?: AbortSignal;
    onResult?: (progress: SuiteProgress) => void;
  },
): Promise<KernelCaseResult[]> {
  const results: KernelCaseResult[] = [];
  for (const [index, kernelCase] of cases.entries()) {
    options.signal?.throwIfAborted();
    // Each case draws from its own seed so one case can be replayed alone.
    const result = await kernelCase.run(
      rt,
      (options.seed + index * 0x9e3779b9) >>> 0,
      options.timedRuns ?? 3,
    );
    results.push(result);
    options.onResult?.({ done: index + 1, total: cases.length, result });
  }
  return results;
}
