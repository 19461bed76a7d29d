// The kernel suite: every kernel family on fresh random inputs with awkward shapes, checked against
// its float64 reference with a stated bound, and timed. The studio's "kernel check" runs it on the
// user's GPU in the worker, and the Vitest rig runs the same cases, so there is one definition of
// "the kernels are correct".

import type { GpuRuntime } from '../gpu/runtime';
import { type ActivationFn, activation, biasAdd, gatedActivation } from './activation';
import { attention } from './attention';
import { scoresAttention } from './attentionScores';
import { crossEntropy, IGNORE_TARGET } from './crossEntropy';
import { axpy, scale, softThreshold } from './elementwise';
import { embedding } from './embedding';
import { accumulateGram } from './gram';
import { matmul } from './matmul';
import { MATMUL_KERNELS, type MatmulKernel } from './matmulKernel';
import { matvec, matvecBlocks, matvecBound } from './matvec';
import { MATVEC_KERNELS, type MatvecKernel } from './matvecKernel';
import { type NormKind, norm } from './norm';
import type { NormKernel } from './normKernel';
import { type ReduceOp, reduce, reductionDepth } from './reduce';
import {
  axpyReference,
  F32_EPS,
  gramReference,
  matmulReference,
  reduceReference,
  scaleReference,
  softThresholdReference,
  transposeReference,
} from './reference';
import {
  ACTIVATION_BOUND,
  activationReference,
  attentionBound,
  attentionReference,
  BIAS_ADD_BOUND,
  biasAddReference,
  crossEntropyBound,
  crossEntropyReference,
  embeddingBound,
  embeddingReference,
  gatedReference,
  layerNormReference,
  normBound,
  ROPE_BOUND,
  rmsNormReference,
  ropeReference,
} from './reference.model';
import { type RopeConvention, rope } from './rope';
import { Buffers, defineCase, type KernelCase, type KernelCaseResult, u32Bytes } from './suiteCase';
import { transpose } from './transpose';

const NAN_POISON = Number.NaN;

/** The usual check: reset the output (to poison, or to its initial value), run, read it back. */
function overwriteCheck(
  rt: GpuRuntime,
  out: GPUBuffer,
  initial: Float32Array,
  run: () => Promise<void>,
): () => Promise<Float32Array> {
  return async () => {
    rt.write(out, initial);
    await run();
    return rt.readF32(out);
  };
}

function matmulCase(
  m: number,
  n: number,
  k: number,
  transA: boolean,
  transB: boolean,
  withBeta: boolean,
  kernel: MatmulKernel,
): KernelCase {
  const layout = `${transA ? 'Aᵀ' : 'A'}·${transB ? 'Bᵀ' : 'B'}`;
  return defineCase(
    `matmul ${kernel} ${layout}${withBeta ? ' (α, β)' : ''}`,
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
      const run = () =>
        matmul(rt, { a: aBuf, b: bBuf, c: cBuf, m, n, k, transA, transB, alpha, beta, kernel });
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

function matvecCase(
  rows: number,
  cols: number,
  transpose = false,
  kernel: MatvecKernel = 'workgroup',
): KernelCase {
  // y = Aᵀ·x has one kernel; y = A·x is named by the kernel it runs on.
  const [label, outLength, inLength] = transpose
    ? ['matvec y = Aᵀ·x', cols, rows]
    : [`matvec ${kernel} y = A·x`, rows, cols];
  return defineCase(label, 'matvec', `${rows}×${cols} · ${inLength}`, async (rt, random) => {
    const buffers = new Buffers(rt);
    const a = random.uniform(rows * cols);
    const x = random.uniform(inLength);
    const aBuf = await buffers.upload('A', a);
    const xBuf = await buffers.upload('x', x);
    const poison = new Float32Array(outLength).fill(NAN_POISON);
    const yBuf = await buffers.upload('y', poison);
    const run = () => matvec(rt, { a: aBuf, x: xBuf, y: yBuf, rows, cols, transpose, kernel });
    const block = matvecBlocks(rt, rows, cols);
    return {
      check: overwriteCheck(rt, yBuf, poison, run),
      again: run,
      reference: transpose
        ? matmulReference({ a, b: x, m: cols, n: 1, k: rows, transA: true })
        : matmulReference({ a, b: x, m: rows, n: 1, k: cols }),
      // A·x: the kernel's serial additions per invocation, one per later column block (matvec.ts).
      // Aᵀ·x: each column's rows serially, one per later row block.
      bound:
        (transpose
          ? rows + Math.ceil(rows / block.rows)
          : matvecBound(kernel, cols, Math.ceil(cols / block.cols))) * F32_EPS,
      flops: 2 * rows * cols,
      bytes: 4 * (rows * cols + cols + rows),
      free: () => buffers.free(),
    };
  });
}

function gramCase(rows: number, width: number, kernel: MatmulKernel): KernelCase {
  return defineCase(`gram ${kernel} G += XᵀX`, 'gram', `X ${rows}×${width}`, async (rt, random) => {
    const buffers = new Buffers(rt);
    const x = random.uniform(rows * width);
    const g0 = random.uniform(width * width);
    const xBuf = await buffers.upload('X', x);
    const gBuf = await buffers.upload('G', g0);
    const run = () => accumulateGram(rt, { x: xBuf, rows, width, g: gBuf, kernel });
    return {
      check: overwriteCheck(rt, gBuf, g0, run),
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
      check: overwriteCheck(rt, outBuf, poison, run),
      again: run,
      reference: transposeReference(x, rows, cols),
      bound: 0,
      flops: 0,
      bytes: 8 * rows * cols,
      free: () => buffers.free(),
    };
  });
}

/** The matmul and Gram cases once per kernel: the adapter runs one by default, both must be right. */
function bothKernels(cases: (kernel: MatmulKernel) => KernelCase[]): KernelCase[] {
  return MATMUL_KERNELS.flatMap(cases);
}

/**
 * The cases. 'check' is what the studio and the tests run: awkward shapes (1, primes, sizes that do
 * not divide the 64-wide tile) small enough for a CPU adapter. 'tiled' is smaller still, for runs
 * under a deliberately tiny binding limit, where every case splits into many windows.
 */
export function kernelSuite(size: 'check' | 'tiled' = 'check'): KernelCase[] {
  if (size === 'tiled') {
    return [
      ...bothKernels((kernel) => [
        matmulCase(37, 29, 41, false, false, false, kernel),
        matmulCase(23, 31, 19, false, true, true, kernel),
        matmulCase(29, 17, 33, true, false, false, kernel),
        matmulCase(70, 9, 13, true, true, true, kernel),
        gramCase(53, 27, kernel),
        gramCase(5, 70, kernel),
      ]),
      ...MATVEC_KERNELS.map((kernel) => matvecCase(41, 600, false, kernel)),
      matvecCase(600, 41, true),
      elementwiseCase('axpy', 3001),
      elementwiseCase('scale', 2999),
      elementwiseCase('soft-threshold', 1031),
      reduceCase('sum', 5003, true),
      reduceCase('sumsq', 4099, false),
      reduceCase('maxabs', 3001, false),
      transposeCase(31, 45),
      embeddingCase(23, 97, 40, false),
      embeddingCase(9, 13, 500, true),
      normCase('layer', 13, 300, 0),
      normCase('layer', 7, 100, 1000),
      normCase('rms', 29, 37, 0),
      normCase('layer', 13, 300, 0, 'row'),
      normCase('layer', 7, 100, 1000, 'row'),
      normCase('rms', 29, 37, 0, 'row'),
      // 170 rows a window: six row-kernel workgroups, folded onto the tiny 3-wide grid.
      normCase('rms', 400, 3, 0, 'row'),
      normCase('layer', 400, 3, 10, 'row'),
      ropeCase('interleaved', 11, 3, 16, 16, 0),
      ropeCase('half', 7, 4, 24, 24, 2000),
      ropeCase('half', 5, 2, 32, 16, 3),
      attentionCase(37, 4, 2, 8),
      attentionCase(9, 2, 1, 100),
      attentionCase(20, 3, 3, 12, { fused: true }),
      attentionCase(37, 4, 2, 8, { scores: true }),
      attentionCase(20, 3, 3, 12, { fused: true, scores: true }),
      activationCase('gelu', 1, 2999),
      activationCase('gelu_tanh', 17, 300),
      gatedCase('silu', 31, 45),
      biasAddCase(37, 129),
      crossEntropyCase(11, 300, 1, true),
      crossEntropyCase(20, 77, 100, false),
    ];
  }
  return [
    ...bothKernels((kernel) => [
      matmulCase(1, 1, 1, false, false, false, kernel),
      matmulCase(67, 45, 83, false, false, false, kernel),
      matmulCase(128, 97, 64, false, true, false, kernel),
      matmulCase(61, 130, 7, true, false, true, kernel),
      matmulCase(70, 33, 129, false, true, true, kernel),
      matmulCase(33, 35, 0, true, true, true, kernel),
      matmulCase(512, 172, 64, false, true, false, kernel),
      matmulCase(256, 256, 256, false, false, false, kernel),
      gramCase(1, 1, kernel),
      gramCase(200, 131, kernel),
      gramCase(300, 64, kernel),
    ]),
    ...MATVEC_KERNELS.flatMap((kernel) => [
      matvecCase(1, 1, false, kernel),
      matvecCase(131, 67, false, kernel),
      matvecCase(768, 768, false, kernel),
    ]),
    matvecCase(97, 300, true),
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
    embeddingCase(1, 1, 1, false),
    embeddingCase(31, 97, 45, false),
    embeddingCase(50, 1000, 768, false),
    embeddingCase(37, 67, 45, true),
    normCase('layer', 1, 1, 0),
    normCase('layer', 37, 769, 0),
    normCase('layer', 13, 300, 1000),
    normCase('layer', 3, 8192, 0),
    normCase('rms', 1, 1, 0),
    normCase('rms', 5, 8192, 0),
    normCase('rms', 17, 257, 0),
    // The CPU adapter's kernel (normKernel.ts): rows narrower than 4, widths off the vec4 lanes.
    normCase('layer', 1, 1, 0, 'row'),
    normCase('layer', 37, 769, 0, 'row'),
    normCase('layer', 13, 300, 1000, 'row'),
    normCase('rms', 5, 8192, 0, 'row'),
    normCase('rms', 67, 66, 0, 'row'),
    ropeCase('interleaved', 1, 1, 2, 2, 0),
    ropeCase('interleaved', 7, 3, 16, 16, 0),
    ropeCase('half', 5, 2, 64, 64, 4090),
    ropeCase('half', 3, 2, 32, 16, 17),
    ropeCase('interleaved', 4, 2, 128, 128, 8000, 500000),
    attentionCase(1, 1, 1, 1),
    attentionCase(37, 4, 2, 16),
    attentionCase(130, 6, 1, 64),
    attentionCase(70, 2, 2, 256),
    attentionCase(45, 4, 2, 32, { fused: true }),
    attentionCase(20, 2, 1, 8, { qScale: 300 }),
    attentionCase(130, 6, 1, 64, { scores: true }),
    attentionCase(45, 4, 2, 32, { fused: true, scores: true }),
    attentionCase(20, 2, 1, 8, { qScale: 300, scores: true }),
    activationCase('gelu', 37, 271),
    activationCase('gelu_tanh', 37, 271),
    activationCase('relu', 1, 4099),
    activationCase('silu', 37, 271),
    gatedCase('silu', 33, 257),
    gatedCase('gelu_tanh', 5, 1000),
    biasAddCase(1, 1),
    biasAddCase(37, 129),
    crossEntropyCase(1, 1, 1, false),
    crossEntropyCase(7, 50272, 1, false),
    crossEntropyCase(13, 1000, 1, true),
    crossEntropyCase(5, 301, 100, false),
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

// ——— Transformer kernels: embedding, norms, RoPE, attention, activations, cross-entropy ———
// Bounds and error scales are defined beside the references (reference.model.ts), with their
// derivations.

function embeddingCase(tokens: number, vocab: number, width: number, positions: boolean): KernelCase {
  return defineCase(
    positions ? 'embedding += positions' : 'embedding',
    'embedding',
    `${tokens} ids into ${vocab}×${width}`,
    async (rt, random) => {
      const buffers = new Buffers(rt);
      const table = random.uniform(vocab * width);
      const ids = new Uint32Array(tokens);
      if (positions) {
        // Learned position embeddings as OPT looks them up: position t + 2 (vocab ≥ tokens + 2).
        for (let t = 0; t < tokens; t++) ids[t] = t + 2;
      } else {
        for (let t = 0; t < tokens; t++) ids[t] = Math.floor(random.next() * vocab);
        // The first and last rows are where an off-by-one in the table windows would show.
        ids[0] = 0;
        if (tokens > 1) ids[tokens - 1] = vocab - 1;
      }
      const out0 = positions
        ? random.uniform(tokens * width)
        : new Float32Array(tokens * width).fill(NAN_POISON);
      const tableBuf = await buffers.upload('table', table);
      const idsBuf = await buffers.upload('ids', u32Bytes(ids));
      const outBuf = await buffers.upload('out', out0);
      const run = () =>
        embedding(rt, {
          ids: idsBuf,
          table: tableBuf,
          out: outBuf,
          tokens,
          vocab,
          width,
          accumulate: positions,
        });
      return {
        async check() {
          rt.write(outBuf, out0);
          await run();
          return rt.readF32(outBuf);
        },
        again: run,
        reference: embeddingReference(table, width, ids, positions ? out0 : undefined),
        bound: embeddingBound(positions),
        flops: positions ? tokens * width : 0,
        bytes: 4 * (tokens + tokens * width * (positions ? 3 : 2)),
        free: () => buffers.free(),
      };
    },
  );
}

function normCase(
  kind: NormKind,
  rows: number,
  width: number,
  mean: number,
  kernel: NormKernel = 'workgroup',
): KernelCase {
  // The workgroup kernel keeps the case names the studio's Kernel check has always shown.
  const variant = kernel === 'workgroup' ? '' : ` ${kernel}`;
  const name = `${kind === 'layer' ? 'LayerNorm' : 'RMSNorm'}${variant}${mean ? ` (mean ${mean})` : ''}`;
  return defineCase(name, 'norm', `${rows}×${width}`, async (rt, random) => {
    const buffers = new Buffers(rt);
    // Around a large mean, E[x²] − E[x]² cancels catastrophically; the two-pass variance does not.
    const x = random.uniform(rows * width, mean - 1, mean + 1);
    const g = random.uniform(width, 0.5, 1.5);
    const b = random.uniform(width);
    const eps = 1e-5;
    const poison = new Float32Array(rows * width).fill(NAN_POISON);
    const xBuf = await buffers.upload('x', x);
    const gBuf = await buffers.upload('g', g);
    const bBuf = await buffers.upload('b', b);
    const yBuf = await buffers.upload('y', poison);
    const bias = kind === 'layer' ? bBuf : undefined;
    const run = () => norm(rt, { kind, x: xBuf, y: yBuf, weight: gBuf, bias, rows, width, eps, kernel });
    return {
      check: overwriteCheck(rt, yBuf, poison, run),
      again: run,
      reference:
        kind === 'layer'
          ? layerNormReference(x, rows, width, g, b, eps)
          : rmsNormReference(x, rows, width, g, eps),
      bound: normBound(width, kernel),
      flops: (kind === 'layer' ? 8 : 4) * rows * width,
      bytes: 4 * (2 * rows * width + (kind === 'layer' ? 2 : 1) * width),
      free: () => buffers.free(),
    };
  });
}

function ropeCase(
  convention: RopeConvention,
  tokens: number,
  heads: number,
  headDim: number,
  rotaryDim: number,
  startPosition: number,
  theta = 10000,
): KernelCase {
  const partial = rotaryDim < headDim ? ` (rotary ${rotaryDim})` : '';
  return defineCase(
    `RoPE ${convention}${partial}`,
    'rope',
    `${tokens}×${heads}×${headDim} from position ${startPosition}, θ ${theta}`,
    async (rt, random) => {
      const buffers = new Buffers(rt);
      const x = random.uniform(tokens * heads * headDim);
      const xBuf = await buffers.upload('x', x);
      // In place: the input is rewritten before each checked run.
      const run = () =>
        rope(rt, { x: xBuf, tokens, heads, headDim, rotaryDim, convention, startPosition, theta });
      return {
        async check() {
          rt.write(xBuf, x);
          await run();
          return rt.readF32(xBuf);
        },
        again: run,
        reference: ropeReference(x, tokens, heads, headDim, { convention, rotaryDim, startPosition, theta }),
        bound: ROPE_BOUND,
        flops: 3 * tokens * heads * rotaryDim,
        bytes: 8 * tokens * heads * rotaryDim,
        free: () => buffers.free(),
      };
    },
  );
}

function attentionCase(
  tokens: number,
  heads: number,
  kvHeads: number,
  headDim: number,
  options: { fused?: boolean; qScale?: number; scores?: boolean } = {},
): KernelCase {
  const qScale = options.qScale ?? 1;
  // The same cases run through both implementations: online softmax, and materialised scores.
  const kernel = options.scores ? scoresAttention : attention;
  const kind = kvHeads === heads ? '' : kvHeads === 1 ? ' MQA' : ' GQA';
  const name =
    `attention${kind}${options.fused ? ' (fused qkv)' : ''}${qScale !== 1 ? ' (large scores)' : ''}` +
    `${options.scores ? ' via scores' : ''}`;
  const T = tokens;
  const D = headDim;
  return defineCase(name, 'attention', `T ${T}, heads ${heads}/${kvHeads}, D ${D}`, async (rt, random) => {
    const buffers = new Buffers(rt);
    // Large scores overflow exp unless the running maximum is subtracted first.
    const q = random.uniform(T * heads * D, -qScale, qScale);
    const k = random.uniform(T * kvHeads * D);
    const v = random.uniform(T * kvHeads * D);
    const poison = new Float32Array(T * heads * D).fill(NAN_POISON);
    const outBuf = await buffers.upload('out', poison);
    let run: () => Promise<void>;
    if (options.fused) {
      // One [T, (heads + 2·kvHeads)·D] buffer, each row q_t | k_t | v_t, read through views.
      const qw = heads * D;
      const kw = kvHeads * D;
      const ld = qw + 2 * kw;
      const qkv = new Float32Array(T * ld);
      for (let t = 0; t < T; t++) {
        qkv.set(q.subarray(t * qw, (t + 1) * qw), t * ld);
        qkv.set(k.subarray(t * kw, (t + 1) * kw), t * ld + qw);
        qkv.set(v.subarray(t * kw, (t + 1) * kw), t * ld + qw + kw);
      }
      const qkvBuf = await buffers.upload('qkv', qkv);
      run = () =>
        kernel(rt, {
          q: qkvBuf,
          k: qkvBuf,
          v: qkvBuf,
          out: outBuf,
          tokens,
          heads,
          kvHeads,
          headDim,
          ldQ: ld,
          ldK: ld,
          ldV: ld,
          offsetK: qw,
          offsetV: qw + kw,
        });
    } else {
      const qBuf = await buffers.upload('q', q);
      const kBuf = await buffers.upload('k', k);
      const vBuf = await buffers.upload('v', v);
      run = () => kernel(rt, { q: qBuf, k: kBuf, v: vBuf, out: outBuf, tokens, heads, kvHeads, headDim });
    }
    return {
      check: overwriteCheck(rt, outBuf, poison, run),
      again: run,
      reference: attentionReference({ q, k, v, tokens, heads, kvHeads, headDim }),
      bound: attentionBound(tokens, headDim),
      // Causal: query t meets t + 1 keys, each a q·k and a p·v of D multiply-adds.
      flops: 2 * heads * D * T * (T + 1),
      bytes: 4 * (2 * T * heads * D + 2 * T * kvHeads * D),
      free: () => buffers.free(),
    };
  });
}

function activationCase(fn: ActivationFn, rows: number, cols: number): KernelCase {
  return defineCase(fn, 'activation', `${rows}×${cols}`, async (rt, random) => {
    const buffers = new Buffers(rt);
    // [−8, 8] reaches both branches of erf and the saturated tails of every function.
    const x = random.uniform(rows * cols, -8, 8);
    const poison = new Float32Array(rows * cols).fill(NAN_POISON);
    const xBuf = await buffers.upload('x', x);
    const yBuf = await buffers.upload('y', poison);
    const run = () => activation(rt, { fn, rows, cols, x: { buffer: xBuf }, y: { buffer: yBuf } });
    return {
      check: overwriteCheck(rt, yBuf, poison, run),
      again: run,
      reference: activationReference(fn, x),
      bound: ACTIVATION_BOUND,
      flops: 20 * rows * cols,
      bytes: 8 * rows * cols,
      free: () => buffers.free(),
    };
  });
}

function gatedCase(fn: ActivationFn, rows: number, cols: number): KernelCase {
  const name = fn === 'silu' ? 'SwiGLU silu(a)·b' : `gated ${fn}(a)·b`;
  return defineCase(name, 'activation', `${rows}×${cols}`, async (rt, random) => {
    const buffers = new Buffers(rt);
    const a = random.uniform(rows * cols, -8, 8);
    const b = random.uniform(rows * cols);
    const poison = new Float32Array(rows * cols).fill(NAN_POISON);
    const aBuf = await buffers.upload('a', a);
    const bBuf = await buffers.upload('b', b);
    const outBuf = await buffers.upload('out', poison);
    const run = () =>
      gatedActivation(rt, {
        fn,
        rows,
        cols,
        a: { buffer: aBuf },
        b: { buffer: bBuf },
        out: { buffer: outBuf },
      });
    return {
      check: overwriteCheck(rt, outBuf, poison, run),
      again: run,
      reference: gatedReference(fn, a, b),
      bound: ACTIVATION_BOUND,
      flops: 21 * rows * cols,
      bytes: 12 * rows * cols,
      free: () => buffers.free(),
    };
  });
}

function biasAddCase(rows: number, cols: number): KernelCase {
  return defineCase('bias add y += b', 'activation', `${rows}×${cols}`, async (rt, random) => {
    const buffers = new Buffers(rt);
    const y0 = random.uniform(rows * cols);
    const bias = random.uniform(cols);
    const yBuf = await buffers.upload('y', y0);
    const biasBuf = await buffers.upload('bias', bias);
    const run = () => biasAdd(rt, { rows, cols, y: { buffer: yBuf }, bias: biasBuf });
    return {
      check: overwriteCheck(rt, yBuf, y0, run),
      again: run,
      reference: biasAddReference(y0, bias, rows, cols),
      bound: BIAS_ADD_BOUND,
      flops: rows * cols,
      bytes: 4 * (2 * rows * cols + cols),
      free: () => buffers.free(),
    };
  });
}

function crossEntropyCase(rows: number, vocab: number, logitScale: number, withIgnored: boolean): KernelCase {
  const name = `cross-entropy${withIgnored ? ' (ignored rows)' : ''}${logitScale > 10 ? ' (large logits)' : ''}`;
  return defineCase(name, 'crossEntropy', `${rows}×${vocab}`, async (rt, random) => {
    const buffers = new Buffers(rt);
    // Large logits overflow exp unless the row maximum is subtracted first.
    const logits = random.uniform(rows * vocab, -logitScale, logitScale);
    const targets = new Uint32Array(rows);
    for (let r = 0; r < rows; r++) {
      targets[r] = withIgnored && r % 3 === 1 ? IGNORE_TARGET : Math.floor(random.next() * vocab);
    }
    const poison = new Float32Array(rows).fill(NAN_POISON);
    const logitsBuf = await buffers.upload('logits', logits);
    const targetsBuf = await buffers.upload('targets', u32Bytes(targets));
    const nllBuf = await buffers.upload('nll', poison);
    const run = () => crossEntropy(rt, { logits: logitsBuf, targets: targetsBuf, nll: nllBuf, rows, vocab });
    return {
      check: overwriteCheck(rt, nllBuf, poison, run),
      again: run,
      reference: crossEntropyReference(logits, rows, vocab, targets, IGNORE_TARGET),
      bound: crossEntropyBound(vocab),
      flops: 4 * rows * vocab,
      bytes: 4 * (rows * vocab + 2 * rows),
      free: () => buffers.free(),
    };
  });
}
