// Blocks pruned apart and joined. FISTAPruner's blocks each see the dense model's input
// (blockInputs 'dense'), so a contiguous range of blocks can be pruned by its own run, on its own
// device, at the same time as the others: each range runs the dense blocks before it to reach its
// inputs, and the joined result equals one run over every block bit for bit (same calibration
// windows, same kernels, same order of arithmetic inside a block). The baselines' pipeline feeds
// each block the pruned blocks' output, so their ranges cannot be split this way.

import { sumWork } from '../gpu/meter';
import { type PruneOutput, sparsityOf } from './job';
import type { PruneOptions } from './options';

/**
 * `blocks` (sorted) cut into at most `parts` contiguous ranges whose sizes differ by at most one:
 * range i holds blocks[floor(i·B/n)] up to blocks[floor((i+1)·B/n)].
 */
export function splitBlocks(blocks: readonly number[], parts: number): number[][] {
  if (!Number.isInteger(parts) || parts < 1)
    throw new RangeError(`parts = ${parts} must be a whole number ≥ 1`);
  const n = Math.min(parts, blocks.length);
  return Array.from({ length: n }, (_, i) =>
    blocks.slice(Math.floor((i * blocks.length) / n), Math.floor(((i + 1) * blocks.length) / n)),
  );
}

/** Whether a run's blocks may be pruned apart (see above). */
export function canSplitBlocks(options: PruneOptions): boolean {
  return options.blockInputs === 'dense';
}

/**
 * The runs over disjoint ranges joined as one run with `options`: every pruned tensor, the blocks
 * in order, the sparsity over every matrix summed as the engine sums it, time and counters added
 * up (machine time: the ranges ran side by side).
 */
export function joinPruneOutputs(options: PruneOptions, outputs: readonly PruneOutput[]): PruneOutput {
  const first = outputs[0];
  if (!first) throw new RangeError('there are no runs to join');
  const tensors = new Map<string, Float32Array>();
  for (const o of outputs)
    for (const [name, data] of o.tensors) {
      if (tensors.has(name)) throw new RangeError(`${name} was pruned by two runs`);
      tensors.set(name, data);
    }
  const blocks = outputs.flatMap((o) => o.summary.blocks).sort((a, b) => a.block - b.block);
  const counters = outputs.map((o) => o.summary.counters);
  const { counters: _, ...summary } = first.summary;
  return {
    tensors,
    summary: {
      ...summary,
      options,
      blocks,
      sparsity: sparsityOf(blocks),
      ms: outputs.reduce((s, o) => s + o.summary.ms, 0),
      ...(counters.every((c) => c !== undefined) ? { counters: sumWork(counters) } : {}),
    },
  };
}
