// Property-based fuzzing of the studio's own documents that come from outside: run records (an
// imported file, a CLI folder's run-record.json), paper demo files, and links (the URL state). A
// record or demo may be refused only with its own error class, and one that is accepted must have
// the types the pages that show it rely on; a link is never refused by throwing, and what it
// decodes to survives a second round through encode and decode unchanged.

import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseShard } from '../cli/shard';
import { traceOf } from '../run/fistaTraceSeries';
import { parseRunRecord, RUN_RECORD_FORMAT, RUN_RECORD_VERSION, RunRecordError } from '../run/record';
import { DemoError, parseDemo } from '../ui/demos/demoSpec';
import { decodeUrlState, encodeUrlState } from '../ui/shell/urlState';
import { expectOnlyTyped, fuzzParameters, hostileValue, mutatedJson } from './harness';

const HASH = 'ab'.repeat(32);
const validRecord = {
  format: RUN_RECORD_FORMAT,
  version: RUN_RECORD_VERSION,
  id: 'run-1',
  kind: 'prune',
  startedAt: '2026-01-01T00:00:00.000Z',
  finishedAt: '2026-01-01T00:01:00.000Z',
  status: 'finished',
  config: { method: 'fista', sparsity: 0.5 },
  seed: 0,
  model: { name: 'tiny', sha256: HASH, files: ['model.safetensors'], parameters: 1000 },
  data: [{ name: 'c4', sha256: HASH, bytes: 100 }],
  engineVersion: '0.1.0',
  adapter: 'test',
  producer: 'cli',
  metrics: [
    { name: 'objective', x: [1, 2], y: [0.5, null] },
    {
      name: 'fista/objective/round-1',
      xUnit: 'iteration',
      x: [0, 1],
      y: [2, 1],
      round: { block: 0, operator: 'q', round: 0 },
    },
    { name: 'last-operator/lambda', xUnit: 'round', x: [1], y: [0.5] },
  ],
  results: { perplexity: 12.5, sparsity: '50%', dense: null },
  timings: { total: 60000 },
};

/** What the history table, the record view and the charts rely on in an accepted record. */
function expectRenderable(record: ReturnType<typeof parseRunRecord>): void {
  for (const m of record.metrics) {
    expect(typeof m.name).toBe('string');
    expect(m.x.length).toBe(m.y.length);
    for (const unit of [m.xUnit, m.unit]) expect(unit === undefined || typeof unit === 'string').toBe(true);
    if (m.round) {
      expect(Number.isSafeInteger(m.round.block) && Number.isSafeInteger(m.round.round)).toBe(true);
      expect(typeof m.round.operator).toBe('string');
    }
  }
  // The record view's FISTA charts read the trace back from the series.
  traceOf(record);
  for (const v of Object.values(record.results))
    expect(v === null || typeof v === 'number' || typeof v === 'string').toBe(true);
  for (const v of Object.values(record.timings)) expect(v === null || Number.isFinite(v)).toBe(true);
  for (const d of record.data) expect(Number.isSafeInteger(d.bytes)).toBe(true);
  expect(record.model.files.every((f) => typeof f === 'string')).toBe(true);
}

const demos = ['fista-2-4-stories260K', 'adapprox-nano-gpt'].map((name) =>
  JSON.parse(readFileSync(new URL(`../../public/demos/${name}.json`, import.meta.url), 'utf8')),
);
const BASE = 'https://studio.example/demos/x.json';

describe('fuzz: studio documents', () => {
  it('run records: mutated valid records and arbitrary JSON', async () => {
    const input = fc.oneof(mutatedJson(validRecord), fc.jsonValue({ maxDepth: 3 }));
    await fc.assert(
      fc.asyncProperty(input, async (value) => {
        const size = JSON.stringify(value)?.length ?? 0;
        await expectOnlyTyped([RunRecordError], size, () => expectRenderable(parseRunRecord(value)));
      }),
      fuzzParameters(500, 0x4ec0),
    );
  });

  it('demo files: mutated shipped demos and arbitrary JSON', async () => {
    const input = fc.oneof(...demos.map((d) => mutatedJson(d)), fc.jsonValue({ maxDepth: 3 }));
    await fc.assert(
      fc.asyncProperty(input, async (value) => {
        const size = JSON.stringify(value)?.length ?? 0;
        await expectOnlyTyped([DemoError], size, () => {
          const demo = parseDemo(value, BASE);
          // The page renders the text and resolves the model address.
          expect(typeof demo.text).toBe('string');
          if (demo.model.kind === 'url')
            expect(() => new URL(demo.model.kind === 'url' ? demo.model.url : '')).not.toThrow();
        });
      }),
      fuzzParameters(500, 0xde70),
    );
  });

  it('links: any query and hash decodes without throwing, and its state survives a second round', async () => {
    const fieldNames = [
      'prune.method',
      'prune.sparsity',
      'prune.n',
      'prune.m',
      'prune.seqLen',
      'prune.seed',
      'prune.evalWindows',
      'eval.seqLen',
      'eval.windows',
      'train.arms',
      'train.steps',
      'train.preset',
      'demo',
      '__proto__',
      'constructor',
    ];
    const pair = fc.tuple(
      fc.oneof(fc.constantFrom(...fieldNames), fc.string({ maxLength: 10 })),
      fc.oneof(
        hostileValue.map((v) => String(v)),
        fc.string({ maxLength: 12 }),
        fc.constantFrom('adamw@3e-3', 'all', '1e3', '0x10'),
      ),
    );
    const input = fc.record({
      search: fc.oneof(
        fc.array(pair, { maxLength: 6 }).map((pairs) => `?${new URLSearchParams(pairs).toString()}`),
        fc.string({ maxLength: 60 }),
      ),
      hash: fc.oneof(
        fc.constantFrom('', '#prune', '#%E0%A4%A', '#a'.repeat(30)),
        fc.string({ maxLength: 20 }),
      ),
    });
    await fc.assert(
      fc.asyncProperty(input, async ({ search, hash }) => {
        await expectOnlyTyped([], search.length + hash.length, () => {
          const { state } = decodeUrlState(search, hash);
          const again = encodeUrlState(state);
          const second = decodeUrlState(again.search, again.hash);
          expect(second.problems).toEqual([]);
          expect(second.state).toEqual(state);
        });
      }),
      fuzzParameters(800, 0x0e1),
    );
  });

  it('--shard i/n: any text is a shard or a usage error', async () => {
    const { InvalidArgumentError } = await import('commander');
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string({ maxLength: 24 }),
          fc.tuple(fc.nat(), fc.nat()).map(([i, n]) => `${i}/${n}`),
        ),
        async (text) => {
          await expectOnlyTyped([InvalidArgumentError], text.length, () => {
            const shard = parseShard(text);
            expect(shard.index >= 1 && shard.index <= shard.count && Number.isSafeInteger(shard.count)).toBe(
              true,
            );
          });
        },
      ),
      fuzzParameters(300, 0x54ad),
    );
  });
});
