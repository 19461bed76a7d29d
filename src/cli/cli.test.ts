// The CLI's conventions for every command (usage and exit code 2 on wrong arguments, --help, one
// JSON object under --json), and `eval` and `bench` on the built-in model and a tiny subset.

import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { folderSources } from '../host/nodeFiles';
import { createNodeRuntime } from '../host/nodeGpu';
import { projectRoot } from '../host/projectRoot';
import { openModel } from '../model/checkpoint';
import { EVAL_TEXTS, evaluatePerplexity, tokenizeEvalText } from '../model/evaluate';
import { GpuModel } from '../model/gpuModel';
import { SERIES } from '../run/build';
import { ENGINE_VERSION } from '../run/engineVersion';
import { parseRunRecord, type RunRecord } from '../run/record';
import { loadTokenizer } from '../tokenizer';
import { jsonOf, runCommand, tempFolder } from './testing';

const ROOT = projectRoot();
const MODEL = join(ROOT, 'public/models/stories260K');
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

const temp = tempFolder('cli-test-');

describe('every command', () => {
  const wrong: [string, string[]][] = [
    ['', []],
    ['', ['compress']],
    ['info', ['info', '--verbose']],
    ['eval', ['eval', '--text', 'shakespeare']],
    ['eval', ['eval', '--windows', '0']],
    ['prune', ['prune', '--pattern', 'half']],
    // Settings the engine refuses, refused before any calibration or evaluation is spent on them.
    ['prune', ['prune', '--pattern', '3:2']],
    ['prune', ['prune', '--pattern', '2:3']],
    ['prune', ['prune', '--pattern', '150%']],
    ['prune', ['prune', '--xi', '2']],
    ['prune', ['prune', '--shard', '3/2']],
    ['prune', ['prune', '--shard', '1/2', '--blocks', '0']],
    ['merge', ['merge', 'shard-1']],
    ['merge', ['merge', '--out', 'merged']],
    ['train', ['train', '--arm', 'sgd']],
    ['bench', ['bench', '--only', 'gpu']],
    ['bench', ['bench', '--runs', 'many']],
  ];
  for (const [command, args] of wrong) {
    it(`prints the usage and exits with 2 on \`${args.join(' ') || '(nothing)'}\``, async () => {
      const run = await runCommand(...args, '--json');
      expect(run.code).toBe(2);
      expect(run.stderr).toContain(`Usage: compression-studio${command ? ` ${command}` : ''} [options]`);
      expect(run.stdout).toBe('');
    });
  }

  for (const command of ['info', 'eval', 'prune', 'merge', 'train', 'bench']) {
    it(`${command} --help prints its usage on stdout and exits with 0`, async () => {
      const run = await runCommand(command, '--help');
      expect(run.code).toBe(0);
      expect(run.stdout).toContain(`Usage: compression-studio ${command} [options]`);
      expect(run.stdout).toContain('--json');
    });
  }

  it('exits with 1 on a failed job, and --json still prints one object: the error', async () => {
    const run = await runCommand('eval', '--model', join(temp.dir, 'no-such-model'), '--json');
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^error: .*no-such-model/);
    expect(jsonOf(run)).toMatchObject({ command: 'eval', record: null });
    expect(jsonOf(run).error).toContain('no-such-model');
  });
});

describe('eval', () => {
  it('prints the perplexity the engine computes on the same windows, with a run record', async () => {
    const recordFile = join(temp.dir, 'eval-record.json');
    const run = await runCommand(
      'eval',
      '--text',
      'tinystories',
      '--seq-len',
      '32',
      '--windows',
      '2',
      '--json',
      '--record',
      recordFile,
    );
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain('perplexity [');
    const out = jsonOf(run);

    // The same windows scored here, through the engine's own entry points.
    const opened = await openModel(await folderSources(MODEL));
    const tokenizer = loadTokenizer(
      await Promise.all(
        opened.otherFiles.map(async (f) => ({ name: f.name, data: await f.read(0, f.size) })),
      ),
      { vocabSize: opened.config.vocabSize },
    );
    const textBytes = await readFile(join(ROOT, 'public', EVAL_TEXTS.tinystories.file));
    const tokens = tokenizeEvalText('tinystories', new TextDecoder().decode(textBytes), tokenizer);
    const rt = await createNodeRuntime();
    let expected: Awaited<ReturnType<typeof evaluatePerplexity>>;
    try {
      const model = await GpuModel.load(rt, opened.weights);
      expected = await evaluatePerplexity(model, tokens, { seqLen: 32, maxWindows: 2 });
      model.destroy();
    } finally {
      rt.destroy();
    }
    expect(out.ppl).toBe(expected.ppl);
    expect(out.windowPpl).toEqual(expected.windowPpl);
    expect(out.windows).toBe(2);

    const record: RunRecord = parseRunRecord(out.record);
    expect(JSON.parse(await readFile(recordFile, 'utf8'))).toEqual(out.record);
    expect(record).toMatchObject({
      kind: 'eval',
      status: 'finished',
      producer: 'cli',
      engineVersion: ENGINE_VERSION,
    });
    expect(record.model).toEqual({
      name: 'stories260K',
      sha256: sha256(await readFile(join(MODEL, 'model.safetensors'))),
      files: ['model.safetensors'],
      parameters: 260032,
    });
    expect(record.data).toEqual([
      { name: 'tinystories', sha256: sha256(textBytes), bytes: textBytes.byteLength },
    ]);
    expect(record.adapter).not.toBe('none');
    expect(record.results).toMatchObject({ ppl: expected.ppl, windows: 2, seqLen: 32 });
    // The evaluation's GPU work: both windows in one pass, their tokens' NLLs read back at once,
    // in --json and the record.
    const counters = out.counters as Record<string, number | null>;
    expect(counters.readbacks).toBe(1);
    expect(counters.bytesRead).toBe(4 * 2 * 32);
    expect(counters.dispatches).toBeGreaterThan(2);
    expect(record.results).toMatchObject({
      readbacks: counters.readbacks,
      bytesRead: counters.bytesRead,
      dispatches: counters.dispatches,
      submissions: counters.submissions,
      gpuMs: counters.gpuMs,
    });
    const nll = record.metrics.find((m) => m.name === SERIES.windowNll);
    expect(nll?.x).toEqual([1, 2]);
    expect(nll?.y).toEqual(expected.windowPpl.map((p) => Math.log(p)));
    expect(record.timings.total).toBeGreaterThan(record.timings.evaluation as number);
  });
});

describe('bench', () => {
  it('runs a subset of the benchmark and prints its report as one JSON object', async () => {
    const file = join(temp.dir, 'bench.json');
    const run = await runCommand(
      'bench',
      '--quick',
      '--only',
      'kernels',
      '--cases',
      'n=128',
      '--runs',
      '1',
      '--json-out',
      file,
      '--json',
    );
    expect(run.code, run.stderr).toBe(0);
    const report = jsonOf(run);
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual(report);
    const rows = report.rows as { name: string; runs: number; gflops: number; error?: string }[];
    expect(rows.map((r) => r.name)).toEqual(['n=128']);
    expect(rows[0]?.error).toBeUndefined();
    expect(rows[0]?.gflops).toBeGreaterThan(0);
    expect(report).toMatchObject({ forward: [], prune: [], train: [] });
    expect(run.stderr).toContain('square A·B');
  });
});
