// `merge`: joins the folders of `prune --shard i/n` (or `--blocks`) runs into one pruned model,
// checked and joined as src/run/shardFolders.ts says, with its summary and run record.

import { join } from 'node:path';
import type { Command } from 'commander';
import { buildRunRecord } from '../run/build';
import { mergePruneRecords, mergeSummaries } from '../run/merge';
import {
  matrixEntries,
  PRUNED_FOLDER_FORMAT,
  type PrunedFolder,
  type PrunedFolderSummary,
  RECORD_FILE,
} from '../run/prunedFolder';
import { checkShards, mergedSource } from '../run/shardFolders';
import { describeBlocks } from '../run/shards';
import { ProgressLine } from './progress';
import { readPrunedFolder, writePrunedFolder } from './prunedFolder';
import { addRecordOption, writeRecord } from './record';
import { emit } from './shared';

export function registerMerge(program: Command): void {
  const command = program
    .command('merge')
    .description('join the --out folders of `prune --shard i/n` runs into one pruned model folder')
    .argument('<shards...>', "the shards' folders, in any order")
    .requiredOption(
      '--out <dir>',
      'where to write the merged model (safetensors, config, tokenizer, summary)',
    )
    .option('--json', 'print one JSON object on stdout');
  addRecordOption(command).action(
    async (dirs: string[], cli: { out: string; json?: boolean; record?: string }) => {
      const started = performance.now();
      const shards: PrunedFolder[] = [];
      for (const dir of dirs) shards.push(await readPrunedFolder(dir));
      const details = checkShards(shards);
      const summary = mergeSummaries(details);
      const folder: PrunedFolderSummary = {
        format: PRUNED_FOLDER_FORMAT,
        method: summary.method,
        options: summary.options,
        sparsity: summary.sparsity,
        layers: (shards[0] as PrunedFolder).summary.layers,
        blocks: summary.blocks.map((b) => b.block),
        shard: null,
        baseModel: (shards[0] as PrunedFolder).summary.baseModel,
        matrices: matrixEntries(summary),
        mergedFrom: shards.map((s) => ({
          folder: s.dir,
          blocks: s.summary.blocks,
          shard: s.summary.shard,
          record: s.record.id,
        })),
      };
      let bar: ProgressLine | undefined;
      const progress = (done: number, total: number) => {
        bar ??= new ProgressLine('merge', total, 'tensors');
        bar.update(done);
        if (done === total) bar.done();
      };
      const outputSha256 = await writePrunedFolder(
        cli.out,
        mergedSource(shards, progress),
        (shards[0] as PrunedFolder).tokenizerFiles,
        folder,
      );
      const parts = mergePruneRecords(
        shards.map((s) => s.record),
        summary,
        { outputSha256 },
      );
      parts.timings.merge = performance.now() - started;
      const record = buildRunRecord(parts);
      for (const path of [join(cli.out, RECORD_FILE), ...(cli.record ? [cli.record] : [])])
        await writeRecord(path, record);
      const from = shards.map((s) => `blocks ${describeBlocks(s.summary.blocks)} from ${s.dir}`).join(', ');
      emit(
        Boolean(cli.json),
        {
          command: 'merge',
          out: cli.out,
          shards: folder.mergedFrom,
          sparsity: summary.sparsity,
          outputSha256,
          record,
        },
        `merged ${shards.length} shards into ${cli.out}: sparsity ${(100 * summary.sparsity).toFixed(2)}% over ` +
          `${summary.blocks.length} blocks (${from})`,
      );
    },
  );
}
