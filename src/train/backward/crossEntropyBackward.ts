// Backward of the next-token cross-entropy (kernels/crossEntropy.ts): dlogits = scale ·
// (softmax(logits) − onehot(target)) per row, zero rows for IGNORE_TARGET. For the mean loss over
// the rows that count, scale = 1 / count; the caller knows the targets (it wrote them) and so the
// count. Rows are bound in windows of whole rows, like the forward kernel; a row wider than one
// binding is a GpuLimitError.

import shader from '../../../shaders/train/backward/crossEntropyBackward.wgsl?raw';
import type { Dispatch, GpuRuntime } from '../../gpu/runtime';
import { IGNORE_TARGET } from '../../kernels/crossEntropy';
import { defineKernel } from '../../kernels/kernel';
import { checkDistinct, checkFinite, checkInteger, checkMatrix, rowsPerWindow } from '../../kernels/operands';
import { foldGrid } from '../../kernels/params';
import { bindWindow, span, windowLimits } from '../../kernels/window';

const crossEntropyBackwardKernel = defineKernel({
  name: 'crossEntropyBackward',
  code: shader,
  entryPoints: ['main', 'main_inplace'],
  uniforms: {
    rows: 'u32',
    vocab: 'u32',
    ld_logits: 'u32',
    ld_grad: 'u32',
    off_logits: 'u32',
    off_targets: 'u32',
    off_grad: 'u32',
    nan_bits: 'u32',
    scale: 'f32',
  },
});

const QUIET_NAN_BITS = 0x7fc00000;

export interface CrossEntropyBackwardArgs {
  /** rows × vocab, rows ldLogits apart. */
  logits: GPUBuffer;
  /** rows u32 class indices in [0, vocab), or IGNORE_TARGET. */
  targets: GPUBuffer;
  /** rows × vocab gradient; omitted (or the logits buffer at the same place), logits are overwritten. */
  grad?: GPUBuffer;
  rows: number;
  vocab: number;
  /** Multiplies the gradient: 1 / count for a mean loss. Default 1. */
  scale?: number;
  ldLogits?: number;
  ldGrad?: number;
  offsetLogits?: number;
  offsetTargets?: number;
  offsetGrad?: number;
}

export async function crossEntropyBackward(rt: GpuRuntime, args: CrossEntropyBackwardArgs): Promise<void> {
  rt.submit(await crossEntropyBackwardDispatches(rt, args));
}

/** The number of targets that are not IGNORE_TARGET: the count of a mean loss. */
export function countedTargets(targets: ArrayLike<number>): number {
  let count = 0;
  for (let i = 0; i < targets.length; i++) if (targets[i] !== IGNORE_TARGET) count++;
  return count;
}

export async function crossEntropyBackwardDispatches(
  rt: GpuRuntime,
  args: CrossEntropyBackwardArgs,
): Promise<Dispatch[]> {
  const { rows, vocab } = args;
  const kernel = 'crossEntropyBackward';
  const ldLogits = args.ldLogits ?? vocab;
  const offLogits = args.offsetLogits ?? 0;
  const offTargets = args.offsetTargets ?? 0;
  const inPlace =
    args.grad === undefined ||
    (args.grad === args.logits &&
      (args.offsetGrad ?? offLogits) === offLogits &&
      (args.ldGrad ?? ldLogits) === ldLogits);
  const ldGrad = inPlace ? ldLogits : (args.ldGrad ?? vocab);
  const offGrad = inPlace ? offLogits : (args.offsetGrad ?? 0);
  const scale = args.scale ?? 1;
  checkInteger(kernel, 'rows', rows);
  checkInteger(kernel, 'vocab', vocab, 1);
  checkFinite(kernel, 'scale', scale);
  checkMatrix(kernel, 'logits', args.logits, rows, vocab, ldLogits, offLogits);
  checkMatrix(kernel, 'targets', args.targets, 1, rows, rows, offTargets);
  if (inPlace) {
    checkDistinct(kernel, ['logits (overwritten with the gradient)', args.logits], ['targets', args.targets]);
  } else {
    const grad = args.grad as GPUBuffer;
    checkMatrix(kernel, 'grad', grad, rows, vocab, ldGrad, offGrad);
    checkDistinct(kernel, ['grad', grad], ['logits', args.logits], ['targets', args.targets]);
  }
  if (rows === 0) return [];

  const { align, capacity, maxGroups } = windowLimits(rt.limits);
  const perWindow = Math.min(
    rowsPerWindow(kernel, 'row of logits', capacity, vocab, ldLogits),
    rowsPerWindow(kernel, 'row of the gradient', capacity, vocab, ldGrad),
    capacity,
    maxGroups * maxGroups,
  );
  const pipeline = await crossEntropyBackwardKernel.pipeline(rt, inPlace ? 'main_inplace' : 'main', {
    // Each invocation handles about four logits; 256 at most per row.
    GROUP: Math.min(256, 2 ** Math.ceil(Math.log2(Math.max(1, vocab / 4)))),
  });
  const dispatches: Dispatch[] = [];
  for (let r0 = 0; r0 < rows; r0 += perWindow) {
    const rb = Math.min(perWindow, rows - r0);
    const logits = bindWindow(args.logits, offLogits + r0 * ldLogits, span(rb, vocab, ldLogits), align);
    const targets = bindWindow(args.targets, offTargets + r0, rb, align);
    const grad = inPlace
      ? logits
      : bindWindow(args.grad as GPUBuffer, offGrad + r0 * ldGrad, span(rb, vocab, ldGrad), align);
    dispatches.push({
      pipeline,
      uniforms: crossEntropyBackwardKernel.pack({
        rows: rb,
        vocab,
        ld_logits: ldLogits,
        ld_grad: ldGrad,
        off_logits: logits.base,
        off_targets: targets.base,
        off_grad: grad.base,
        nan_bits: QUIET_NAN_BITS,
        scale,
      }),
      storage: inPlace ? [logits.binding, targets.binding] : [logits.binding, targets.binding, grad.binding],
      workgroups: foldGrid(rb, maxGroups),
    });
  }
  return dispatches;
}
