// For the record tests: a small finished pruning record, built as the hosts build theirs, with only
// what a test is about given.

import { buildRunRecord, type RunRecordParts } from './build';
import type { RunRecord } from './record';

export function tinyPruneRecord(parts: Partial<RunRecordParts> = {}): RunRecord {
  return buildRunRecord({
    kind: 'prune',
    startedAt: new Date(0),
    finishedAt: new Date(1),
    status: 'finished',
    config: {},
    seed: 0,
    model: { name: 'tiny', sha256: 'c'.repeat(64), files: [], parameters: 1 },
    data: [],
    adapter: 'test',
    producer: 'cli',
    metrics: [],
    results: {},
    timings: {},
    ...parts,
  });
}
