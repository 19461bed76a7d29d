// Number formatting for tables and charts. Errors span many decades, so they are shown in
// scientific notation; rates and times are shown to three significant digits, which is all the
// run-to-run noise of a timed kernel allows.

import { inBound, SEED_BOUND } from '../../bounds/bound';
import type { LimitName } from '../../gpu/device';

const BYTE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < BYTE_UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  if (unit === 0) return `${value} B`;
  return `${Number.isInteger(value) ? value : value.toFixed(value < 10 ? 2 : 1)} ${BYTE_UNITS[unit]}`;
}

const BYTE_LIMITS: ReadonlySet<LimitName> = new Set([
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupStorageSize',
  'maxUniformBufferBindingSize',
]);

export function formatLimit(name: LimitName, value: number): string {
  return BYTE_LIMITS.has(name) ? formatBytes(value) : value.toLocaleString('en-US');
}

export function formatError(value: number): string {
  if (Number.isNaN(value)) return '—';
  if (value === 0) return '0';
  return value.toExponential(2);
}

/** A rate of zero means the kernel does no such work (a transpose has no FLOPs). */
export function formatRate(value: number): string {
  if (!Number.isFinite(value) || value === 0) return '—';
  if (value >= 100) return value.toFixed(0);
  // Cases too small to time meaningfully (1×1) land far below 0.001; a long row of zeros hides that.
  return value >= 0.001 ? value.toPrecision(3) : value.toExponential(1);
}

/** Axis ticks: zero is a legitimate tick, unlike a zero rate in a table cell. */
export function formatTick(value: number): string {
  return value === 0 ? '0' : formatRate(value);
}

export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return '—';
  return ms >= 100 ? ms.toFixed(0) : ms.toPrecision(3);
}

export function formatDuration(ms: number): string {
  return ms < 1000 ? `${ms.toFixed(0)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

export function formatSeed(seed: number): string {
  return `0x${seed.toString(16).padStart(8, '0')}`;
}

/** Accepts decimal or 0x-prefixed hex; null for anything that is not a 32-bit unsigned seed (SEED_BOUND). */
export function parseSeed(text: string): number | null {
  const trimmed = text.trim();
  if (!/^(0x[0-9a-f]{1,8}|\d{1,10})$/i.test(trimmed)) return null;
  const value = Number(trimmed);
  return inBound(SEED_BOUND, value) ? value : null;
}
