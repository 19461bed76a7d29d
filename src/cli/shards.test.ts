// `prune` on a tiny model written as a Hugging Face folder, whole and as two shards, and `merge`:
// FISTAPruner's blocks see the dense model's inputs, so the merged shards must equal the whole run
// bit for bit (same calibration seed, same kernels). Then the shards that must not merge.

import { cp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { WorkCounters } from '../gpu/meter';
import { exportHfModel } from '../model/export';
import { tinyConfig } from '../model/testModels';
import { blockOperators, memoryWeightSource } from '../model/weights';
import type { PruneSummary } from '../prune/events';
import { traceOf } from '../run/fistaTraceSeries';
import type { PrunedFolderSummary } from '../run/prunedFolder';
import { parseRunRecord } from '../run/record';
import { jsonOf, runCommand, SHORT_FISTA, SMALL_CALIBRATION, tensorsOf, tinyModelInTemp } from './testing';

const config = tinyConfig('llama', { layers: 3, vocabSize: 512 });
const temp = tinyModelInTemp('shards-test-', config, 7);

const pruneArgs = () => ['prune', '--model', temp.model, ...SMALL_CALIBRATION, ...SHORT_FISTA, '--json'];

/** Series of times, which differ from run to run (GPU time only where the adapter has timestamps). */
const timeSeries = (name: string) => name === 'operator/wall-ms' || name === 'operator/gpu-ms';

const summaryOf = async (folder: string): Promise<PrunedFolderSummary> =>
  JSON.parse(await readFile(join(folder, 'summary.json'), 'utf8'));

describe('pruning in shards and merging them', () => {
  const whole = () => join(temp.dir, 'whole');
  const shard = (i: number) => join(temp.dir, `shard-${i}`);
  const merged = () => join(temp.dir, 'merged');

  it('prunes the whole model: the sparsity reported is the zeros in the written weights', async () => {
    const recordFile = join(temp.dir, 'whole-record.json');
    const run = await runCommand(...pruneArgs(), '--eval', 'none', '--out', whole(), '--record', recordFile);
    expect(run.code, run.stderr).toBe(0);
    const out = jsonOf(run);
    const tensors = await tensorsOf(whole(), config);
    let zeros = 0;
    let entries = 0;
    for (let l = 0; l < config.layers; l++)
      for (const op of blockOperators(config)) {
        const data = tensors.get(`layers.${l}.${op}.weight`) as Float32Array;
        zeros += data.filter((v) => v === 0).length;
        entries += data.length;
      }
    const sparsity = (out.summary as { sparsity: number }).sparsity;
    expect(sparsity).toBeCloseTo(zeros / entries, 12);
    expect(sparsity).toBeCloseTo(0.5, 1);

    const record = parseRunRecord(out.record);
    expect(JSON.parse(await readFile(recordFile, 'utf8'))).toEqual(out.record);
    expect(JSON.parse(await readFile(join(whole(), 'run-record.json'), 'utf8'))).toEqual(out.record);
    expect(record.results).toMatchObject({
      sparsity,
      blocks: 3,
      operators: 3 * blockOperators(config).length,
    });
    expect(record.data.map((d) => d.name)).toEqual(['tinystories']);
    expect(record.metrics.map((m) => m.name).filter((n) => n !== 'operator/gpu-ms')).toEqual([
      'operator/relative-error',
      'operator/sparsity',
      'operator/readbacks',
      'operator/bytes-read',
      'operator/dispatches',
      'operator/submissions',
      'operator/wall-ms',
      'fista/lambda',
      'fista/objective',
      // The last operator's trace, as the studio records it: each round's objective, the λ search.
      'fista/objective/round-1',
      'fista/objective/round-2',
      'last-operator/lambda',
      'last-operator/lambda-lo',
      'last-operator/lambda-hi',
      'last-operator/error-total',
      'last-operator/error-round',
      'last-operator/best',
      'last-operator/sparsity-before-threshold',
    ]);
    const last = (out.summary as PruneSummary).blocks.flatMap((b) => b.matrices).at(-1);
    expect(traceOf(record)).toMatchObject({ block: last?.block, operator: last?.operator });
    expect(traceOf(record)?.objectives.map((m) => m.x)).toEqual([
      [0, 1, 2],
      [0, 1, 2],
    ]);
    // --json carries the run's counters and each operator's; the operators' are part of the run's.
    const counters = out.counters as WorkCounters;
    const operators = (out.summary as PruneSummary).blocks.flatMap((b) => b.matrices);
    expect(operators).toHaveLength(3 * blockOperators(config).length);
    for (const m of operators) {
      expect(m.counters?.readbacks, m.tensor).toBeGreaterThanOrEqual(1);
      expect(m.counters?.dispatches, m.tensor).toBeGreaterThan(0);
    }
    for (const key of ['readbacks', 'bytesRead', 'dispatches', 'submissions'] as const)
      expect(counters[key], key).toBeGreaterThan(operators.reduce((n, m) => n + (m.counters?.[key] ?? 0), 0));
    expect(record.results).toMatchObject({ readbacks: counters.readbacks, dispatches: counters.dispatches });
    expect(record.metrics.find((m) => m.name === 'operator/readbacks')?.y).toEqual(
      operators.map((m) => m.counters?.readbacks),
    );
    expect(await summaryOf(whole())).toMatchObject({ blocks: [0, 1, 2], layers: 3, shard: null });
  });

  it('prunes shard i of n as a contiguous range of blocks and says so in summary.json', async () => {
    for (const i of [1, 2]) {
      const run = await runCommand(...pruneArgs(), '--eval', 'none', '--shard', `${i}/2`, '--out', shard(i));
      expect(run.code, run.stderr).toBe(0);
      expect(jsonOf(run).shard).toEqual({ index: i, count: 2 });
    }
    expect(await summaryOf(shard(1))).toMatchObject({ blocks: [0], shard: { index: 1, count: 2 } });
    expect(await summaryOf(shard(2))).toMatchObject({ blocks: [1, 2], shard: { index: 2, count: 2 } });
  });

  it('merges the shards into the whole run, bit for bit', async () => {
    const recordFile = join(temp.dir, 'merged-record.json');
    const run = await runCommand(
      'merge',
      '--out',
      merged(),
      shard(2),
      shard(1),
      '--json',
      '--record',
      recordFile,
    );
    expect(run.code, run.stderr).toBe(0);
    const out = jsonOf(run);
    const [mergedBytes, wholeBytes] = await Promise.all(
      [merged(), whole()].map((f) => readFile(join(f, 'model.safetensors'))),
    );
    expect(Buffer.compare(mergedBytes as Buffer, wholeBytes as Buffer)).toBe(0);
    const [m, w] = await Promise.all([summaryOf(merged()), summaryOf(whole())]);
    expect(m.matrices).toEqual(w.matrices);
    expect(m.sparsity).toBe(w.sparsity);
    expect(m.blocks).toEqual([0, 1, 2]);
    expect(m.mergedFrom?.map((s) => s.blocks)).toEqual([[0], [1, 2]]);

    const record = parseRunRecord(out.record);
    const wholeRecord = parseRunRecord(JSON.parse(await readFile(join(whole(), 'run-record.json'), 'utf8')));
    expect(JSON.parse(await readFile(recordFile, 'utf8'))).toEqual(out.record);
    // The same work per operator (read-backs, bytes, dispatches, submissions): only times differ.
    const untimed = (r: typeof record) => r.metrics.filter((m) => !timeSeries(m.name));
    expect(untimed(record)).toEqual(untimed(wholeRecord));
    expect(record.metrics.map((m) => m.name)).toEqual(wholeRecord.metrics.map((m) => m.name));
    // The merged run's last operator is the last shard's: the same trace as the whole run's.
    expect(traceOf(record)).toEqual(traceOf(wholeRecord));
    expect(record.results).toMatchObject({ sparsity: w.sparsity, shards: 2, outputSha256: out.outputSha256 });
    expect(record.model).toEqual(wholeRecord.model);

    // Without --json: nothing on stdout, the one-line summary on stderr after the progress.
    const plain = await runCommand('merge', '--out', join(temp.dir, 'merged-again'), shard(1), shard(2));
    expect(plain.code).toBe(0);
    expect(plain.stdout).toBe('');
    expect(plain.stderr).toMatch(
      /merge \[#+\] 30\/30 tensors.*\nmerged 2 shards into .*: sparsity 50\.00% over 3 blocks/s,
    );
  });

  it('prunes on two devices at once (--devices 2): the whole run’s model and matrices, bit for bit', async () => {
    const folder = join(temp.dir, 'two-devices');
    const run = await runCommand(...pruneArgs(), '--eval', 'none', '--out', folder, '--devices', '2');
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/memory plan: .* on the GPU at its peak \(down: FISTA\)/);
    const [twoBytes, wholeBytes] = await Promise.all(
      [folder, whole()].map((f) => readFile(join(f, 'model.safetensors'))),
    );
    expect(Buffer.compare(twoBytes as Buffer, wholeBytes as Buffer)).toBe(0);
    const [two, w] = await Promise.all([summaryOf(folder), summaryOf(whole())]);
    expect(two.matrices).toEqual(w.matrices);
    expect(two.sparsity).toBe(w.sparsity);
    expect(two.blocks).toEqual([0, 1, 2]);
  });

  it('refuses several devices where the blocks cannot be split, as a usage error', async () => {
    const run = await runCommand(...pruneArgs(), '--method', 'wanda', '--eval', 'none', '--devices', '2');
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/--devices 2: Several devices need dense block inputs \(FISTAPruner\)/);
  });

  it('records a job that failed after reading its model, with the error', async () => {
    const recordFile = join(temp.dir, 'failed-record.json');
    const missing = join(temp.dir, 'no-such-text.txt');
    const run = await runCommand(...pruneArgs(), '--calibration', missing, '--record', recordFile);
    expect(run.code).toBe(1);
    const out = jsonOf(run);
    expect(out.error).toContain('no-such-text.txt');
    const record = parseRunRecord(JSON.parse(await readFile(recordFile, 'utf8')));
    expect(out.record).toEqual(record);
    expect(record).toMatchObject({ kind: 'prune', status: 'failed', model: { name: 'tiny' } });
    expect(record.error).toContain('no-such-text.txt');
  });

  it('refuses more shards than the model has blocks, as a usage error', async () => {
    const run = await runCommand(...pruneArgs(), '--eval', 'none', '--shard', '4/4');
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('4 shards of a 3-block model');
  });

  /** A copy of shard 1 with one thing changed. */
  async function brokenShard(name: string, change: (folder: string) => Promise<void>): Promise<string> {
    const folder = join(temp.dir, name);
    await cp(shard(1), folder, { recursive: true });
    await change(folder);
    return folder;
  }

  async function refused(shards: string[], message: RegExp | string): Promise<void> {
    const run = await runCommand('merge', '--out', join(temp.dir, 'refused'), ...shards, '--json');
    expect(run.code, run.stderr).toBe(1);
    expect(run.stderr).toMatch(message);
    expect(jsonOf(run).error).toMatch(message);
  }

  it('refuses overlapping and missing blocks', async () => {
    await refused([whole(), shard(2)], /block 1 was pruned in both .*whole and .*shard-2/);
    await refused([shard(2)], /block 0 is in none of the folders given; shard 1\/2 is missing/);
  });

  it('refuses shards of other models, configs or settings', async () => {
    const editSummary = (edit: (s: PrunedFolderSummary) => void) => async (folder: string) => {
      const s = await summaryOf(folder);
      edit(s);
      await writeFile(join(folder, 'summary.json'), JSON.stringify(s));
    };
    const otherModel = await brokenShard(
      'other-model',
      editSummary((s) => {
        s.baseModel.sha256 = '0'.repeat(64);
      }),
    );
    await refused(
      [shard(2), otherModel],
      /other-model was pruned from a different model than .*shard-2: base model sha256 000000000000…/,
    );
    const otherSettings = await brokenShard(
      'other-settings',
      editSummary((s) => {
        (s.options.fista as { iterations: number }).iterations = 3;
      }),
    );
    await refused([shard(2), otherSettings], /different settings: options\.fista\.iterations: 2 ≠ 3/);
    const otherConfig = await brokenShard('other-config', async (folder) => {
      const json = JSON.parse(await readFile(join(folder, 'config.json'), 'utf8'));
      json.rms_norm_eps = 1e-6;
      await writeFile(join(folder, 'config.json'), JSON.stringify(json));
    });
    await refused([shard(2), otherConfig], /different model configs: config\.normEps: 0\.00001 ≠ 0\.000001/);
    // The same recorded sha256, but a tensor neither shard pruned differs: caught while merging.
    const otherWeights = await brokenShard('other-weights', async (folder) => {
      const tensors = await tensorsOf(folder, config);
      (tensors.get('final_norm.weight') as Float32Array)[0] = 2;
      for (const f of await exportHfModel(memoryWeightSource(config, tensors, 'tiny')))
        if (f.name === 'model.safetensors') await writeFile(join(folder, f.name), f.data);
    });
    await refused(
      [otherWeights, shard(2)],
      /tensor final_norm\.weight differs between .* and neither pruned it/,
    );
  });

  it('names the file when a shard folder is incomplete or truncated', async () => {
    const noRecord = await brokenShard('no-record', (folder) => rm(join(folder, 'run-record.json')));
    await refused([noRecord, shard(2)], /no-record: run-record\.json is missing/);
    const truncated = await brokenShard('truncated', async (folder) => {
      const file = join(folder, 'model.safetensors');
      await truncate(file, (await readFile(file)).byteLength - 100);
    });
    await refused([truncated, shard(2)], /truncated: model\.safetensors.*truncated/);
    const cut = await brokenShard('cut-summary', async (folder) => {
      const text = await readFile(join(folder, 'summary.json'), 'utf8');
      await writeFile(join(folder, 'summary.json'), text.slice(0, text.length / 2));
    });
    await refused([cut, shard(2)], /cut-summary: summary\.json is not valid JSON/);
  });
});
