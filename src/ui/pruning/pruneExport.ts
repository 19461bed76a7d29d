// What leaves the studio as files: the results table as CSV and JSON, and a run's pruned model as
// one uncompressed tar (a folder of model.safetensors, config.json, tokenizer, summary.json). The
// tar writer is the POSIX ustar layout, small enough to own rather than depend on: 512-byte
// headers with octal fields and a byte-sum checksum, data padded to 512, two zero blocks at the end.

import type { PruneRun } from '../../worker/api';
import { describeMethod, describePattern } from './pruneSettings';

const CSV_COLUMNS: [string, (r: PruneRun) => string | number | boolean | null][] = [
  ['id', (r) => r.id],
  ['created', (r) => r.createdAt],
  ['model', (r) => r.modelName],
  ['method', (r) => r.summary.method],
  ['method_label', (r) => describeMethod(r.summary.options)],
  ['pattern', (r) => describePattern(r.summary.options.pattern)],
  ['sparsity', (r) => r.summary.sparsity],
  ['calibration', (r) => r.calibrationLabel],
  ['calibration_windows', (r) => r.summary.options.calibration.windows],
  ['calibration_seq_len', (r) => r.summary.options.calibration.seqLen],
  ['seed', (r) => r.summary.options.calibration.seed],
  ['warm_start', (r) => (r.summary.method === 'fista' ? r.summary.options.fista.warmStart : null)],
  ['fista_iterations', (r) => (r.summary.method === 'fista' ? r.summary.options.fista.iterations : null)],
  ['lambda_rounds', (r) => (r.summary.method === 'fista' ? r.summary.options.fista.rounds : null)],
  ['xi', (r) => (r.summary.method === 'fista' ? r.summary.options.fista.xi : null)],
  ['threshold_group', (r) => (r.summary.method === 'fista' ? r.summary.options.fista.thresholdGroup : null)],
  [
    'error_correction',
    (r) => (r.summary.method === 'fista' ? r.summary.options.fista.errorCorrection : null),
  ],
  ['sparsegpt_damping', (r) => r.summary.options.sparsegpt.percdamp],
  ['block_inputs', (r) => r.summary.options.blockInputs],
  ['eval_text', (r) => r.evalText],
  ['eval_seq_len', (r) => r.seqLen],
  ['eval_windows', (r) => r.windows],
  ['ppl_before', (r) => r.pplBefore],
  ['ppl_after', (r) => r.pplAfter],
  ['prune_ms', (r) => Math.round(r.summary.ms)],
  ['total_ms', (r) => Math.round(r.totalMs)],
  ['resumes', (r) => r.resumes],
];

function csvField(value: string | number | boolean | null): string {
  if (value === null) return '';
  const text = String(value);
  return /[",\n\r]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** One row per run; numbers at full precision, empty cells for what does not apply. */
export function runsCsv(runs: readonly PruneRun[]): string {
  const lines = [CSV_COLUMNS.map(([name]) => name).join(',')];
  for (const r of runs) lines.push(CSV_COLUMNS.map(([, get]) => csvField(get(r))).join(','));
  return `${lines.join('\r\n')}\r\n`;
}

/** Every run's full record: settings, per-matrix summary and perplexities. */
export function runsJson(runs: readonly PruneRun[]): string {
  return `${JSON.stringify({ format: 'compression-studio.prune-runs', version: 1, runs }, null, 2)}\n`;
}

/** A name safe on every file system: letters, digits, dot, dash and underscore. */
export function safeName(text: string): string {
  return (
    text
      .replace(/[^A-Za-z0-9._-]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 80) || 'model'
  );
}

/** 'stories260K-fista-2of4-run-3-…'. */
export function runFolderName(run: PruneRun): string {
  const model = run.modelName.replace(/\s*\(built-in\)$/, '');
  const p = run.summary.options.pattern;
  const pattern = p.kind === 'nm' ? `${p.n}of${p.m}` : `${Math.round(100 * p.sparsity)}pct`;
  return safeName(`${model}-${run.summary.method}-${pattern}-${run.id}`);
}

const BLOCK = 512;

/** A ustar archive of files under one folder. Names (folder/name) must fit 100 bytes. */
export function tarArchive(
  folder: string,
  files: readonly { name: string; data: Uint8Array }[],
  mtime = Date.now(),
): Uint8Array<ArrayBuffer> {
  const encoder = new TextEncoder();
  const size =
    files.reduce((s, f) => s + BLOCK + Math.ceil(f.data.length / BLOCK) * BLOCK, BLOCK) + 2 * BLOCK;
  const out = new Uint8Array(size);
  let offset = 0;
  const seconds = Math.floor(mtime / 1000);

  const header = (name: string, bytes: number, type: '0' | '5', mode: number) => {
    const h = out.subarray(offset, offset + BLOCK);
    const field = (at: number, length: number, text: string) => {
      const encoded = encoder.encode(text);
      if (encoded.length > length) throw new RangeError(`tar: "${text}" is longer than ${length} bytes`);
      h.set(encoded, at);
    };
    const octal = (at: number, length: number, value: number) =>
      field(at, length, `${value.toString(8).padStart(length - 1, '0')}\0`);
    field(0, 100, name);
    octal(100, 8, mode);
    octal(108, 8, 0);
    octal(116, 8, 0);
    octal(124, 12, bytes);
    octal(136, 12, seconds);
    h.fill(0x20, 148, 156); // the checksum counts its own field as spaces
    field(156, 1, type);
    field(257, 6, 'ustar\0');
    field(263, 2, '00');
    let sum = 0;
    for (const b of h) sum += b;
    field(148, 8, `${sum.toString(8).padStart(6, '0')}\0 `);
    offset += BLOCK;
  };

  const dir = `${safeName(folder)}/`;
  header(dir, 0, '5', 0o755);
  for (const f of files) {
    header(dir + f.name, f.data.length, '0', 0o644);
    out.set(f.data, offset);
    offset += Math.ceil(f.data.length / BLOCK) * BLOCK;
  }
  return out;
}
