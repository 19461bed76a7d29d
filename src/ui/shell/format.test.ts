import { describe, expect, it } from 'vitest';
import { formatBytes, formatError, formatLimit, formatRate, formatSeed, parseSeed } from './format';

describe('format', () => {
  it('writes byte limits in binary units and counts as plain numbers', () => {
    expect(formatBytes(1073741824)).toBe('1 GiB');
    expect(formatBytes(1536)).toBe('1.50 KiB');
    expect(formatLimit('maxComputeWorkgroupStorageSize', 32768)).toBe('32 KiB');
    expect(formatLimit('maxComputeWorkgroupsPerDimension', 65535)).toBe('65,535');
  });

  it('shows missing values as a dash', () => {
    expect(formatError(Number.NaN)).toBe('—');
    expect(formatError(0)).toBe('0');
    expect(formatError(1.234e-7)).toBe('1.23e-7');
    expect(formatRate(0)).toBe('—');
    expect(formatRate(0.1234)).toBe('0.123');
    expect(formatRate(7.1e-7)).toBe('7.1e-7');
  });

  it('round-trips seeds in decimal and hex, and rejects what is not a u32', () => {
    expect(parseSeed(formatSeed(0xdeadbeef))).toBe(0xdeadbeef);
    expect(parseSeed(' 42 ')).toBe(42);
    expect(parseSeed('4294967296')).toBeNull();
    expect(parseSeed('-1')).toBeNull();
    expect(parseSeed('1.5')).toBeNull();
    expect(parseSeed('')).toBeNull();
  });
});
