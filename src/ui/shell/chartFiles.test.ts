import { describe, expect, it } from 'vitest';
import { chartCsv } from './chartFiles';

describe('chartCsv', () => {
  it('writes a column per key in the order first seen, numbers at full precision', () => {
    const csv = chartCsv([
      { window: 1, windowPpl: 12.345678901234567 },
      { window: 2, windowPpl: 8, runningPpl: 9.9 },
    ]);
    expect(csv).toBe('window,windowPpl,runningPpl\r\n1,12.345678901234567,\r\n2,8,9.9\r\n');
  });

  it('leaves missing and non-finite values empty and quotes what needs it', () => {
    const csv = chartCsv([
      { label: 'block 0, "q"', value: Number.NaN, hi: null, lo: Number.POSITIVE_INFINITY },
    ]);
    expect(csv).toBe('label,value,hi,lo\r\n"block 0, ""q""",,,\r\n');
  });

  it('gives an empty header line for a chart without rows', () => {
    expect(chartCsv([])).toBe('\r\n');
  });
});
