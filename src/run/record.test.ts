import { describe, expect, it } from 'vitest';
import { parseRunRecord, RUN_RECORD_VERSION, RunRecordError } from './record';
import { tinyPruneRecord } from './testing';

/** A small prune record as this version writes it, through JSON. */
function written(metrics: unknown[], results: Record<string, number | string | null> = {}) {
  const record = tinyPruneRecord({ producer: 'studio', results });
  return JSON.parse(JSON.stringify({ ...record, metrics })) as Record<string, unknown>;
}

describe('run record versions', () => {
  it('reads a series with its units and round tag, and refuses malformed ones naming the field', () => {
    const series = {
      name: 'fista/objective/round-2',
      xUnit: 'iteration',
      unit: 'objective',
      x: [0, 1],
      y: [3, 2],
      round: { block: 1, operator: 'q', round: 1 },
    };
    expect(RUN_RECORD_VERSION).toBe(2);
    expect(parseRunRecord(written([series])).metrics).toEqual([series]);
    const bad = (change: Record<string, unknown>) => () =>
      parseRunRecord(written([{ ...series, ...change }]));
    expect(bad({ xUnit: 3 })).toThrow('run record: "xUnit" must be a unit name, got 3');
    expect(bad({ round: [1] })).toThrow('"round" must be an object');
    expect(bad({ round: { block: -1, operator: 'q', round: 0 } })).toThrow('"block" must be a block number');
    expect(bad({ round: { block: 0, operator: 'q', round: 0.5 } })).toThrow(
      '"round" must be a round number from 0, got 0.5',
    );
    expect(bad({ round: { block: 0, round: 0 } })).toThrow('"operator" must be an operator name');
  });

  it('upgrades a version 1 record: its objective series by round get their round tags, nothing else changes', () => {
    const objective = (n: number | string) => ({
      name: `last-operator/objective/round-${n}`,
      x: [0, 1],
      y: [2, 1],
    });
    const lambda = { name: 'last-operator/lambda', x: [1, 2], y: [0.5, 0.25] };
    const v1 = {
      ...written([objective(2), objective(1), lambda, objective('01'), objective(0)], {
        'lastOperator.block': 3,
        'lastOperator.name': 'gate',
      }),
      version: 1,
    };
    const read = parseRunRecord(v1);
    expect(read.version).toBe(RUN_RECORD_VERSION);
    expect(read.metrics).toEqual([
      { ...objective(2), xUnit: 'iteration', round: { block: 3, operator: 'gate', round: 1 } },
      { ...objective(1), xUnit: 'iteration', round: { block: 3, operator: 'gate', round: 0 } },
      lambda,
      // Names version 1 never wrote stay untagged.
      objective('01'),
      objective(0),
    ]);
    // Without the operator in the results, as a hand-trimmed file may be: block 0, operator '?'.
    const bare = parseRunRecord({ ...written([objective(1)]), version: 1 });
    expect(bare.metrics[0]?.round).toEqual({ block: 0, operator: '?', round: 0 });
  });

  it('refuses a version it does not know, saying which it reads', () => {
    expect(() => parseRunRecord({ ...written([]), version: 3 })).toThrow(RunRecordError);
    expect(() => parseRunRecord({ ...written([]), version: 3 })).toThrow(
      'run record: version 3 is not supported (this studio reads versions 1 and 2)',
    );
  });
});
