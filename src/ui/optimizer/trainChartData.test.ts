import { describe, expect, it } from 'vitest';
import type { SecondMomentSpectrum } from '../../train/job';
import {
  adamwBytes,
  errorRows,
  lossRows,
  memoryRows,
  speedRows,
  thinIndices,
  timeRows,
  truncationRows,
} from './trainChartData';
import { type ArmTrace, emptyArmTrace } from './trainReducer';

const arm = (id: string, patch: Partial<ArmTrace> = {}): ArmTrace => ({
  ...emptyArmTrace(id, id.toUpperCase(), id),
  ...patch,
});

describe('training chart rows', () => {
  it('thins to an even stride and keeps the last point', () => {
    expect(thinIndices(5, 10)).toEqual([0, 1, 2, 3, 4]);
    expect(thinIndices(10, 4)).toEqual([0, 3, 6, 9]);
    expect(thinIndices(11, 4)).toEqual([0, 3, 6, 9, 10]);
    expect(thinIndices(0, 4)).toEqual([]);
  });

  it('puts every arm’s training and validation losses on the steps they were reported at', () => {
    const rows = lossRows([
      arm('a', {
        train: [
          [1, 5],
          [2, 4],
        ],
        validation: [
          [0, 6],
          [2, 4.5],
        ],
      }),
      arm('b', { train: [[1, 5.5]] }),
    ]);
    expect(rows).toEqual([
      { step: 0, 'a:val': 6 },
      { step: 1, 'a:train': 5, 'b:train': 5.5 },
      { step: 2, 'a:train': 4, 'a:val': 4.5 },
    ]);
  });

  it('thins long training series but keeps every validation point', () => {
    const train = Array.from({ length: 1000 }, (_, i): [number, number] => [i + 1, 1 / (i + 1)]);
    const validation = Array.from({ length: 101 }, (_, i): [number, number] => [10 * i, 1]);
    const rows = lossRows([arm('a', { train, validation })]);
    expect(rows.filter((r) => 'a:train' in r).length).toBeLessThanOrEqual(401);
    expect(rows.filter((r) => 'a:val' in r)).toHaveLength(101);
    expect(rows.at(-1)).toEqual({ step: 1000, 'a:train': 1 / 1000, 'a:val': 1 });
    expect(speedRows([arm('a', { tokensPerSecond: train })]).at(-1)).toEqual({ step: 1000, a: 1 / 1000 });
  });

  it('sets each arm’s state bytes against AdamW’s 2·4·P', () => {
    expect(adamwBytes(43_904)).toBe(351_232);
    const rows = memoryRows(
      [
        arm('adamw', { state: { persistent: 800, transient: 0 } }),
        arm('adapprox', { state: { persistent: 300, transient: 64 } }),
        arm('idle'),
      ],
      100,
    );
    expect(rows).toEqual([
      { id: 'adamw', label: 'ADAMW', bytes: 800, saved: 0, analytical: false },
      { id: 'adapprox', label: 'ADAPPROX', bytes: 300, saved: 0.625, analytical: false },
      { id: 'adamw-formula', label: 'AdamW, 2·4·P (formula)', bytes: 800, saved: 0, analytical: true },
    ]);
  });

  it('gives the mean step time and the optimizer’s share', () => {
    const rows = timeRows([
      arm('a', {
        train: [
          [1, 1],
          [2, 1],
        ],
        modelMs: 30,
        optimizerMs: 10,
      }),
      arm('none'),
    ]);
    expect(rows).toEqual([{ id: 'a', label: 'A', modelMs: 15, optimizerMs: 5, share: 0.25 }]);
  });

  it('leaves zero errors out of the log-scale charts', () => {
    expect(
      errorRows({
        names: ['a', 'b'],
        steps: [1, 2],
        rank: [
          [1, 1],
          [2, 2],
        ],
        error: [
          [0.1, 0],
          [0.05, Number.NaN],
        ],
        last: [],
      }),
    ).toEqual([
      { step: 1, a: 0.1 },
      { step: 2, a: 0.05 },
    ]);
    const spectrum: SecondMomentSpectrum = {
      arm: 'adapprox',
      matrix: 'm',
      step: 3,
      rows: 8,
      cols: 2,
      singularValues: [2, 1],
      exactErrors: [1, 0.4, 0],
      sketchErrors: [1, 0.41],
      rank: 1,
      errorTarget: 0.03,
    };
    expect(truncationRows(spectrum)).toEqual([
      { k: 0, exact: 1, sketch: 1 },
      { k: 1, exact: 0.4, sketch: 0.41 },
      { k: 2 },
    ]);
  });
});
