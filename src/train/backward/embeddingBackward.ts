// Backward of the embedding lookup (kernels/embedding.ts): dTable[ids[t], :] += dOut[t, :], for token
// embeddings (ids = token ids) and learned position embeddings (ids = position numbers, OPT's
// offset included). Deterministic without float atomics: the host, which wrote the ids, sorts each
// window's tokens by id into segments, and one invocation per (segment, column) sums a segment in
// token order (see embeddingBackward.wgsl). Cost: a CPU sort of the tokens and an upload of about
// 3·tokens u32 per call, then tokens · width additions on the GPU, whatever the vocabulary size.
//
// dTable is always added into: zero it first, or let it hold the LM head's gradient when the
// embeddings are tied (the two contributions then sum in a fixed order). Tokens are taken in
// windows whose dOut rows and index fit one binding, and the table in windows of vocabulary rows.

import shader from '../../../shaders/train/backward/embeddingBackward.wgsl?raw';
import { GpuLimitError } from '../../gpu/errors';
import type { Dispatch, GpuRuntime } from '../../gpu/runtime';
import { defineKernel } from '../../kernels/kernel';
import { checkDistinct, checkInteger, checkMatrix } from '../../kernels/operands';
import { foldGrid } from '../../kernels/params';
import { bindWindow, planBlocks, span, windowLimits } from '../../kernels/window';

const embeddingBackwardKernel = defineKernel({
  name: 'embeddingBackward',
  code: shader,
  uniforms: {
    segments: 'u32',
    first_segment: 'u32',
    cols: 'u32',
    ld_out: 'u32',
    off_out: 'u32',
    off_table: 'u32',
    first_row: 'u32',
    ld_table: 'u32',
    col_groups: 'u32',
    ids_base: 'u32',
    starts_base: 'u32',
    order_base: 'u32',
  },
});

export interface EmbeddingBackwardArgs {
  /** The forward's ids, as the host wrote them: token ids, or position numbers. */
  ids: ArrayLike<number>;
  /** tokens × width: the gradient of the embedding output, rows ldOut apart. */
  dOut: GPUBuffer;
  /** vocab × width: dTable[id, :] += the rows of dOut whose id it is. */
  dTable: GPUBuffer;
  vocab: number;
  width: number;
  ldOut?: number;
  offsetOut?: number;
  offsetTable?: number;
}

/** A window's tokens grouped by id: distinct ids ascending, where each starts in order, and order. */
export interface Segments {
  ids: Uint32Array;
  starts: Uint32Array;
  /** Token indices (relative to the window) sorted by id, ties by position. */
  order: Uint32Array;
}

export function segmentsById(ids: ArrayLike<number>, from = 0, to = ids.length): Segments {
  const order = Uint32Array.from({ length: to - from }, (_, i) => i);
  // A stable sort by id keeps each id's tokens in position order.
  order.sort((a, b) => (ids[from + a] as number) - (ids[from + b] as number) || a - b);
  const segIds: number[] = [];
  const starts: number[] = [];
  order.forEach((t, i) => {
    const id = ids[from + t] as number;
    if (segIds.length === 0 || segIds[segIds.length - 1] !== id) {
      segIds.push(id);
      starts.push(i);
    }
  });
  starts.push(order.length);
  return { ids: Uint32Array.from(segIds), starts: Uint32Array.from(starts), order };
}

export async function embeddingBackward(rt: GpuRuntime, args: EmbeddingBackwardArgs): Promise<void> {
  const { ids, vocab, width } = args;
  const kernel = 'embeddingBackward';
  const tokens = ids.length;
  const ldOut = args.ldOut ?? width;
  const offOut = args.offsetOut ?? 0;
  const offTable = args.offsetTable ?? 0;
  checkInteger(kernel, 'vocab', vocab, 1);
  checkInteger(kernel, 'width', width, 1);
  for (let t = 0; t < tokens; t++) {
    const id = ids[t] as number;
    if (!Number.isInteger(id) || id < 0 || id >= vocab) {
      throw new RangeError(`${kernel}: id ${id} of token ${t} is outside the table's ${vocab} rows`);
    }
  }
  checkMatrix(kernel, 'dOut', args.dOut, tokens, width, ldOut, offOut);
  checkMatrix(kernel, 'dTable', args.dTable, vocab, width, width, offTable);
  checkDistinct(kernel, ['dTable', args.dTable], ['dOut', args.dOut]);
  if (tokens === 0) return;

  const { align, capacity, maxGroups } = windowLimits(rt.limits);
  const block = planBlocks<'t' | 'c'>(
    { t: tokens, c: width },
    [
      { measure: (b) => span(b.t, b.c, ldOut), limit: capacity, shrink: ['t', 'c'] },
      // The index of a window: ids and starts of ≤ t segments, and t token indices.
      { measure: (b) => 3 * b.t + 1, limit: capacity, shrink: ['t'] },
      // One table row of the block's columns must fit (a window of one vocabulary row).
      { measure: (b) => b.c, limit: capacity, shrink: ['c'] },
      { measure: (b) => b.t * Math.ceil(b.c / 64), limit: maxGroups * maxGroups, shrink: ['t', 'c'] },
    ],
    64,
  );
  const pipeline = await embeddingBackwardKernel.pipeline(rt);
  const scratch = [];
  try {
    for (let t0 = 0; t0 < tokens; t0 += block.t) {
      const tb = Math.min(block.t, tokens - t0);
      const seg = segmentsById(ids, t0, t0 + tb);
      const S = seg.ids.length;
      const packed = new Uint32Array(2 * S + 1 + tb);
      packed.set(seg.ids, 0);
      packed.set(seg.starts, S);
      packed.set(seg.order, 2 * S + 1);
      const index = await rt.upload('embedding backward index', 'scratch', packed);
      scratch.push(index);
      const dispatches: Dispatch[] = [];
      for (let c0 = 0; c0 < width; c0 += block.c) {
        const cb = Math.min(block.c, width - c0);
        const colGroups = Math.ceil(cb / 64);
        const dOut = bindWindow(args.dOut, offOut + t0 * ldOut + c0, span(tb, cb, ldOut), align);
        // Segments in groups whose vocabulary rows fit one table window.
        for (let s0 = 0; s0 < S; ) {
          const firstId = seg.ids[s0] as number;
          let s1 = s0 + 1;
          while (
            s1 < S &&
            span((seg.ids[s1] as number) - firstId + 1, cb, width) <= capacity &&
            (s1 + 1 - s0) * colGroups <= maxGroups * maxGroups
          ) {
            s1++;
          }
          const rows = (seg.ids[s1 - 1] as number) - firstId + 1;
          if (span(1, cb, width) > capacity) {
            throw new GpuLimitError(`${kernel}: a table row of ${cb} columns does not fit one binding`);
          }
          const table = bindWindow(
            args.dTable,
            offTable + firstId * width + c0,
            span(rows, cb, width),
            align,
          );
          dispatches.push({
            pipeline,
            uniforms: embeddingBackwardKernel.pack({
              segments: s1 - s0,
              first_segment: s0,
              cols: cb,
              ld_out: ldOut,
              off_out: dOut.base,
              off_table: table.base,
              first_row: firstId,
              ld_table: width,
              col_groups: colGroups,
              ids_base: 0,
              starts_base: S,
              order_base: 2 * S + 1,
            }),
            storage: [index.buffer, dOut.binding, table.binding],
            workgroups: foldGrid((s1 - s0) * colGroups, maxGroups),
          });
          s0 = s1;
        }
      }
      rt.submit(dispatches);
    }
  } finally {
    // Deferred by the ledger until the recorded work is submitted.
    for (const s of scratch) s.destroy();
  }
}
