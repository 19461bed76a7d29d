// Per-row cross-entropy of next-token prediction: nll[t] = logsumexp(logits[t, :]) −
// logits[t, target[t]], for rows × vocab logits (vocab 50272 for OPT, 32000 for Llama) and u32
// targets. Rows are bound in windows of whole rows; a row wider than one binding is a
// GpuLimitError. A target of IGNORE_TARGET gives nll 0 (padding); the mean over the rows that count,
// e.g. with reduce(), is the caller's business.

import shader from '../../shaders/kernels/crossEntropy.wgsl?raw';
import type { Dispatch, GpuRuntime } from '../gpu/runtime';
import { defineKernel } from './kernel';
import { checkDistinct, checkInteger, checkMatrix, rowsPerWindow } from './operands';
import { foldGrid } from './params';
import { bindWindow, span, windowLimits } from './window';

const crossEntropyKernel = defineKernel({
  name: 'crossEntropy',
  code: shader,
  uniforms: {
    rows: 'u32',
    vocab: 'u32',
    ld: 'u32',
    off_logits: 'u32',
    off_targets: 'u32',
    off_nll: 'u32',
    nan_bits: 'u32',
  },
});

/** The target that marks a row to be ignored (nll = 0). */
export const IGNORE_TARGET = 0xffffffff;

const QUIET_NAN_BITS = 0x7fc00000;

export interface CrossEntropyArgs {
  /** rows × vocab, rows ld apart. */
  logits: GPUBuffer;
  /** rows u32 class indices in [0, vocab), or IGNORE_TARGET. */
  targets: GPUBuffer;
  /** rows f32 outputs. */
  nll: GPUBuffer;
  rows: number;
  vocab: number;
  ld?: number;
  offsetLogits?: number;
  offsetTargets?: number;
  offsetNll?: number;
}

export async function crossEntropy(rt: GpuRuntime, args: CrossEntropyArgs): Promise<void> {
  rt.submit(await crossEntropyDispatches(rt, args));
}

export async function crossEntropyDispatches(rt: GpuRuntime, args: CrossEntropyArgs): Promise<Dispatch[]> {
  const { rows, vocab } = args;
  const ld = args.ld ?? vocab;
  const offLogits = args.offsetLogits ?? 0;
  const offTargets = args.offsetTargets ?? 0;
  const offNll = args.offsetNll ?? 0;
  const kernel = 'crossEntropy';
  checkInteger(kernel, 'rows', rows);
  checkInteger(kernel, 'vocab', vocab, 1);
  checkMatrix(kernel, 'logits', args.logits, rows, vocab, ld, offLogits);
  checkMatrix(kernel, 'targets', args.targets, 1, rows, rows, offTargets);
  checkMatrix(kernel, 'nll', args.nll, 1, rows, rows, offNll);
  checkDistinct(kernel, ['nll', args.nll], ['logits', args.logits], ['targets', args.targets]);
  if (rows === 0) return [];

  const { align, capacity, maxGroups } = windowLimits(rt.limits);
  const perWindow = Math.min(
    rowsPerWindow(kernel, 'row of logits', capacity, vocab, ld),
    capacity,
    maxGroups * maxGroups,
  );
  const pipeline = await crossEntropyKernel.pipeline(rt, 'main', { GROUP: crossEntropyGroupSize(vocab) });
  const dispatches: Dispatch[] = [];
  for (let r0 = 0; r0 < rows; r0 += perWindow) {
    const rb = Math.min(perWindow, rows - r0);
    const logits = bindWindow(args.logits, offLogits + r0 * ld, span(rb, vocab, ld), align);
    const targets = bindWindow(args.targets, offTargets + r0, rb, align);
    const nll = bindWindow(args.nll, offNll + r0, rb, align);
    dispatches.push({
      pipeline,
      uniforms: crossEntropyKernel.pack({
        rows: rb,
        vocab,
        ld,
        off_logits: logits.base,
        off_targets: targets.base,
        off_nll: nll.base,
        nan_bits: QUIET_NAN_BITS,
      }),
      storage: [logits.binding, targets.binding, nll.binding],
      workgroups: foldGrid(rb, maxGroups),
    });
  }
  return dispatches;
}

/** Invocations per row: a power of two ≤ 256, about 16 logits each (see crossEntropy.wgsl). */
export function crossEntropyGroupSize(vocab: number): number {
  return Math.min(256, 2 ** Math.ceil(Math.log2(Math.max(1, vocab / 16))));
}
