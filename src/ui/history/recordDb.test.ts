import 'fake-indexeddb/auto';
import { openDB } from 'idb';
import { afterEach, describe, expect, it } from 'vitest';
import { buildRunRecord } from '../../run/build';
import type { RunRecord } from '../../run/record';
import { allRecords, clearRecords, deleteRecord, putRecord } from './recordDb';

// The history's IndexedDB layer on fake-indexeddb (an in-memory IndexedDB for Node): records kept
// and read back newest first, a damaged entry reported and skipped, delete and clear.

const HASH = 'c'.repeat(64);

function record(startedAt: string, ppl: number): RunRecord {
  const start = new Date(startedAt);
  return buildRunRecord({
    kind: 'eval',
    startedAt: start,
    finishedAt: new Date(start.getTime() + 1000),
    status: 'finished',
    config: { text: 'tinystories' },
    seed: null,
    model: { name: 'tiny', sha256: HASH, files: ['model.safetensors'], parameters: 1 },
    data: [{ name: 'tinystories', sha256: HASH, bytes: 1 }],
    adapter: 'test adapter',
    producer: 'studio',
    metrics: [],
    results: { ppl },
    timings: { total: 1000 },
  });
}

afterEach(async () => {
  await clearRecords();
});

describe('the run history in IndexedDB', () => {
  it('keeps records and reads them back whole, newest first', async () => {
    const older = record('2026-12-01T10:00:00Z', 4.5);
    const newer = record('2026-12-02T10:00:00Z', 3.5);
    await putRecord(older);
    await putRecord(newer);
    const { records, damaged } = await allRecords();
    expect(records).toEqual([newer, older]);
    expect(damaged).toEqual([]);
    await deleteRecord(older.id);
    expect((await allRecords()).records).toEqual([newer]);
  });

  it('reports a damaged entry and reads the rest', async () => {
    const good = record('2026-12-02T11:00:00Z', 3.1);
    await putRecord(good);
    // What a hand-edited or truncated entry looks like from the store's side.
    const db = await openDB('compression-studio', 1);
    await db.put('run-records', { id: 'broken', format: 'compression-studio/run-record' });
    db.close();
    const { records, damaged } = await allRecords();
    expect(records).toEqual([good]);
    expect(damaged).toHaveLength(1);
    expect(damaged[0]).toMatch(/^run record: /);
    await clearRecords();
    expect(await allRecords()).toEqual({ records: [], damaged: [] });
  });
});
