import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { PruneRun } from '../../worker/api';
import { smallFista24 } from '../shell/testRuns';
import { runFolderName, runsCsv, runsJson, safeName, tarArchive } from './pruneExport';

function run(overrides: Partial<PruneRun> = {}): PruneRun {
  return {
    id: 'run-1-abc',
    createdAt: '2026-11-28T12:00:00.000Z',
    modelName: 'stories260K (built-in)',
    summary: {
      method: 'fista',
      options: smallFista24(0),
      blocks: [],
      sparsity: 0.5,
      calibrationTokens: 128,
      ms: 1234.4,
    },
    pplBefore: 3.25,
    pplAfter: 20.125,
    evalText: 'tinystories',
    seqLen: 64,
    windows: 2,
    calibrationLabel: 'C4 sample (1000 documents, "en")',
    resumes: 0,
    totalMs: 2000,
    exportable: true,
    ...overrides,
  };
}

describe('results as files', () => {
  it('writes CSV with a header, quoted fields and empty cells for what does not apply', () => {
    const csv = runsCsv([
      run(),
      run({
        id: 'run-2',
        summary: {
          ...run().summary,
          method: 'magnitude',
          options: { ...run().summary.options, method: 'magnitude' },
        },
        pplBefore: null,
        pplAfter: null,
        evalText: null,
      }),
    ]);
    const lines = csv.trimEnd().split('\r\n');
    expect(lines).toHaveLength(3);
    const header = lines[0]?.split(',') ?? [];
    expect(header.slice(0, 7)).toEqual([
      'id',
      'created',
      'model',
      'method',
      'method_label',
      'pattern',
      'sparsity',
    ]);
    const first = lines[1] ?? '';
    expect(first).toContain('"C4 sample (1000 documents, ""en"")"');
    expect(first).toContain(',FISTAPruner (SparseGPT start),2:4,0.5,');
    expect(first).toContain(',3.25,20.125,1234,2000,0');
    const second = (lines[2] ?? '').split(',');
    expect(second[header.indexOf('fista_iterations')]).toBe('');
    expect(second[header.indexOf('ppl_after')]).toBe('');
    expect(JSON.parse(runsJson([run()])).runs[0].summary.options.pattern).toEqual({ kind: 'nm', n: 2, m: 4 });
  });

  it('names folders safely', () => {
    expect(safeName('a b/c:d')).toBe('a-b-c-d');
    expect(runFolderName(run())).toBe('stories260K-fista-2of4-run-1-abc');
  });

  it('writes a tar that tar itself reads back', () => {
    const files = [
      { name: 'config.json', data: new TextEncoder().encode('{"a":1}\n') },
      { name: 'model.safetensors', data: Uint8Array.from({ length: 1500 }, (_, i) => i % 251) },
      { name: 'empty.txt', data: new Uint8Array(0) },
    ];
    const tar = tarArchive('my model', files, Date.UTC(2026, 0, 1));
    expect(tar.length % 512).toBe(0);
    // Header checksum: the byte sum with the checksum field read as spaces.
    const header = tar.subarray(512, 1024);
    const stored = Number.parseInt(new TextDecoder().decode(header.subarray(148, 154)), 8);
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : (header[i] as number);
    expect(stored).toBe(sum);

    const dir = mkdtempSync(join(tmpdir(), 'tar-test-'));
    try {
      writeFileSync(join(dir, 'a.tar'), tar);
      const listing = execFileSync('tar', ['-tf', 'a.tar'], { cwd: dir, encoding: 'utf8' });
      expect(listing.trim().split('\n')).toEqual([
        'my-model/',
        'my-model/config.json',
        'my-model/model.safetensors',
        'my-model/empty.txt',
      ]);
      execFileSync('tar', ['-xf', 'a.tar'], { cwd: dir });
      expect(new Uint8Array(readFileSync(join(dir, 'my-model/model.safetensors')))).toEqual(files[1]?.data);
      expect(readFileSync(join(dir, 'my-model/config.json'), 'utf8')).toBe('{"a":1}\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(() => tarArchive('x', [{ name: 'n'.repeat(120), data: new Uint8Array(1) }])).toThrow(RangeError);
  });
});
