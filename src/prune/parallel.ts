// Blocks pruned apart and joined. FISTAPruner's blocks each see the dense model's input
// (blockInputs 'dense'), so a contiguous range of blocks can be pruned by its own run, on its own
// device, at the same time as the others: each range runs the dense blocks before it to reach its
// inputs, and the joined result equals one run over every block bit for bit (same calibration
// windows, same kernels, same order of arithmetic inside a block). The baselines' pipeline feeds
// each block the pruned blocks' output, so their ranges cannot be split this way.

import { inBound } from '../bounds/bound';
import { sumWork } from '../gpu/meter';
import { type PruneOutput, sparsityOf } from './job';
import { PRUNE_BOUNDS, type PruneOptions } from './options';
import type { PrunedTensors } from './prunedTensors';

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
export function canSplitBlocks(options: Pick<PruneOptions, 'blockInputs'>): boolean {
  return options.blockInputs === 'dense';
}

/**
 * The runs over disjoint ranges joined as one run with `options`: every pruned tensor (moved into
 * `tensors`, one at a time), the blocks in order, the sparsity over every matrix summed as the
 * engine sums it, time and counters added up (machine time: the ranges ran side by side).
 */
export function joinPruneOutputs(
  options: PruneOptions,
  outputs: readonly PruneOutput[],
  tensors: PrunedTensors = new Map(),
): PruneOutput {
  const first = outputs[0];
  if (!first) throw new RangeError('there are no runs to join');
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

/**
 * The most devices a pruning run is offered. Each device holds one block's peak (the memory plan's
 * gpuPeakBytes) at once, so the budget bounds them; the one worker thread records and submits for
 * every device, and a device's queue work (on a CPU adapter, SwiftShader's threads) competes for
 * the cores, so the cores bound them too. Without a plan yet, the cores alone.
 */
export const MAX_PRUNE_DEVICES = 8;

export interface DeviceRoom {
  /** Logical cores (navigator.hardwareConcurrency, os.availableParallelism()). */
  cores: number;
  budgetBytes: number;
  /** One device's peak while pruning a block (PruneMemoryPlan.peak.bytes); unknown before a plan. */
  peakBytes?: number;
}

export function maxPruneDevices(room: DeviceRoom): number {
  const cores = Number.isFinite(room.cores) && room.cores >= 1 ? Math.floor(room.cores) : 1;
  const byMemory =
    room.peakBytes && room.peakBytes > 0
      ? Math.floor(room.budgetBytes / room.peakBytes)
      : Number.POSITIVE_INFINITY;
  return Math.max(1, Math.min(MAX_PRUNE_DEVICES, cores, byMemory));
}

/**
 * What is wrong with asking for `devices`, or null: a whole number from 1 to `max`, and above 1
 * only where the blocks can be split (canSplitBlocks). The studio's form and its worker both ask.
 */
export function devicesProblem(devices: number, splittable: boolean, max: number): string | null {
  if (!inBound(PRUNE_BOUNDS.devices, devices)) return 'A whole number of devices, at least 1.';
  if (devices > 1 && !splittable)
    return 'Several devices need dense block inputs (FISTAPruner): with pruned inputs each block waits for the one before.';
  if (devices > max)
    return `At most ${max} here: each device holds one block's peak within the memory budget, and the cores bound them too.`;
  return null;
}
