// Embedding lookup for the first layer of every transformer: out[t, :] = table[ids[t], :], or
// out[t, :] += table[ids[t], :] with `accumulate` to add learned position embeddings, whose ids are
// the position numbers the caller computes (OPT's offset of 2 included). Ids are u32.
//
// A table larger than one storage binding (GPT-2's 50257 × 768 f32 is 154 MB, above the 128 MiB
// default) is swept in windows of vocabulary rows; each dispatch writes only the tokens whose id
// falls in its window, so every output element is written exactly once. Ids ≥ vocab give NaN (see
// embedding.wgsl): the caller validates ids, and NaN makes a missed check visible. The table may be
// half-precision weights packed two per word (tableType, see storage.ts), decoded in the shader.

import body from '../../shaders/kernels/embedding.wgsl?raw';
import halfStorage from '../../shaders/kernels/halfStorage.wgsl?raw';
import type { Dispatch, GpuRuntime } from '../gpu/runtime';
import { defineKernel } from './kernel';
import { checkDistinct, checkInteger, checkMatrix } from './operands';
import { foldGrid } from './params';
import { bindStorageWindow, STORAGE_CODE, type StorageType, storageCapacity } from './storage';
import { bindWindow, planBlocks, span, windowLimits } from './window';

const QUIET_NAN_BITS = 0x7fc00000;
const shader = `${halfStorage}\n${body}`;

const embeddingKernel = defineKernel({
  name: 'embedding',
  code: shader,
  uniforms: {
    tokens: 'u32',
    cols: 'u32',
    ld_table: 'u32',
    ld_out: 'u32',
    off_ids: 'u32',
    off_table: 'u32',
    off_out: 'u32',
    first_row: 'u32',
    rows: 'u32',
    vocab: 'u32',
    nan_bits: 'u32',
  },
});

export interface EmbeddingArgs {
  /** tokens u32 ids. */
  ids: GPUBuffer;
  /** vocab × width, row-major. */
  table: GPUBuffer;
  /** tokens × width, rows ldOut apart. */
  out: GPUBuffer;
  tokens: number;
  vocab: number;
  width: number;
  /** Add the rows to out instead of overwriting it. */
  accumulate?: boolean;
  ldOut?: number;
  /** Element offsets. */
  offsetIds?: number;
  offsetTable?: number;
  offsetOut?: number;
  /** How the table's elements are stored (default f32); offsetTable counts elements either way. */
  tableType?: StorageType;
}

export async function embedding(rt: GpuRuntime, args: EmbeddingArgs): Promise<void> {
  rt.submit(await embeddingDispatches(rt, args));
}

export async function embeddingDispatches(rt: GpuRuntime, args: EmbeddingArgs): Promise<Dispatch[]> {
  const { tokens, vocab, width } = args;
  const ldOut = args.ldOut ?? width;
  const offIds = args.offsetIds ?? 0;
  const offTable = args.offsetTable ?? 0;
  const offOut = args.offsetOut ?? 0;
  const tableType = args.tableType ?? 'f32';
  const kernel = 'embedding';
  if (!(tableType in STORAGE_CODE))
    throw new RangeError(`${kernel}: table storage type ${tableType} is not f32, f16 or bf16`);
  checkInteger(kernel, 'tokens', tokens);
  checkInteger(kernel, 'vocab', vocab, 1);
  checkInteger(kernel, 'width', width, 1);
  checkMatrix(kernel, 'ids', args.ids, 1, tokens, tokens, offIds);
  checkMatrix(kernel, 'table', args.table, vocab, width, width, offTable, tableType);
  checkMatrix(kernel, 'out', args.out, tokens, width, ldOut, offOut);
  checkDistinct(kernel, ['out', args.out], ['ids', args.ids], ['table', args.table]);
  if (tokens === 0) return [];

  const { align, capacity, maxGroups } = windowLimits(rt.limits);
  const block = planBlocks<'t' | 'c' | 'v'>(
    { t: tokens, c: width, v: vocab },
    [
      { measure: (b) => span(b.t, b.c, ldOut), limit: capacity, shrink: ['t', 'c'] },
      { measure: (b) => b.t, limit: capacity, shrink: ['t'] },
      {
        measure: (b) => span(b.v, b.c, width),
        limit: storageCapacity(tableType, capacity),
        shrink: ['v', 'c'],
      },
      // One invocation per output element of a block, on a folded grid of 256-wide workgroups.
      {
        measure: (b) => b.t * b.c,
        limit: Math.min(maxGroups * maxGroups * 256, 2 ** 31),
        shrink: ['t', 'c'],
      },
    ],
    64,
  );
  const pipeline = await embeddingKernel.pipeline(rt, 'main', {
    ACCUMULATE: Number(args.accumulate ?? false),
    TABLE_TYPE: STORAGE_CODE[tableType],
  });
  const dispatches: Dispatch[] = [];
  for (let t0 = 0; t0 < tokens; t0 += block.t) {
    const tb = Math.min(block.t, tokens - t0);
    const ids = bindWindow(args.ids, offIds + t0, tb, align);
    for (let c0 = 0; c0 < width; c0 += block.c) {
      const cb = Math.min(block.c, width - c0);
      const out = bindWindow(args.out, offOut + t0 * ldOut + c0, span(tb, cb, ldOut), align);
      const workgroups = foldGrid(Math.ceil((tb * cb) / 256), maxGroups);
      for (let v0 = 0; v0 < vocab; v0 += block.v) {
        const vb = Math.min(block.v, vocab - v0);
        const first = offTable + v0 * width + c0;
        const table = bindStorageWindow(args.table, first, span(vb, cb, width), align, tableType);
        dispatches.push({
          pipeline,
          uniforms: embeddingKernel.pack({
            tokens: tb,
            cols: cb,
            ld_table: width,
            ld_out: ldOut,
            off_ids: ids.base,
            off_table: table.base,
            off_out: out.base,
            first_row: v0,
            rows: vb,
            vocab,
            nan_bits: QUIET_NAN_BITS,
          }),
          storage: [ids.binding, table.binding, out.binding],
          workgroups,
        });
      }
    }
  }
  return dispatches;
}
