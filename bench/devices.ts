// Pruning on several devices at once (src/prune/parallel.ts, PruneJob's devices, the CLI's
// --devices, the studio's "GPU devices"): stories260K pruned by FISTAPruner on a small
// calibration set on 1 device, then on 2 (and 4 in full mode), in the same run, each on fresh
// runtimes. The speed-up is the ratio of the pruning stage's wall times (1 device over n), and
// the pruned weights are serialized as the CLI writes them (safetensors) and compared byte for
// byte with the one-device run's: they must be equal.
//
// On a CPU adapter (SwiftShader) every device's queue runs on the same CPU cores, so the ratio
// measures how well the ranges overlap on those cores, not what several GPUs would give.

import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { GpuRuntime } from '../src/gpu/runtime';
import { createNodeRuntime } from '../src/host/nodeGpu';
import { PruneJob } from '../src/jobs/prune';
import { writeSafetensors } from '../src/model/safetensors';
import { hfTensorsForExport } from '../src/model/weights';
import { CALIBRATION_TEXTS } from '../src/prune/calibration';
import { defaultPruneOptions } from '../src/prune/job';
import type { PruneOptions } from '../src/prune/options';
import { repoRoot } from './environment';
import { openStories260K } from './stories';
import { alignedRows, num } from './table';

export interface DevicesRow {
  devices: number;
  /** Ranges the blocks were split into (at most the model's blocks). */
  ranges: number;
  /** Wall time of the pruning stage (calibration sampling and runtime creation outside it). */
  pruneMs: number;
  /** The one-device row's pruneMs over this row's. */
  speedup: number;
  /** Bytes of the pruned model.safetensors. */
  weightBytes: number;
  /** Whether those bytes equal the one-device run's. */
  sameBytes: boolean;
  error?: string;
}

/** Small calibration so the whole section stays in minutes on a CPU adapter. */
function options(quick: boolean, config: { maxPositions: number }, parameters: number): PruneOptions {
  const base = defaultPruneOptions('fista', { context: config.maxPositions, parameters });
  return {
    ...base,
    calibration: {
      source: { kind: 'tinystories' },
      windows: quick ? 4 : 8,
      seqLen: quick ? 32 : 64,
      seed: 0,
    },
    fista: { ...base.fista, iterations: quick ? 5 : 10, rounds: quick ? 1 : 2 },
  };
}

export async function benchDevices(quick: boolean): Promise<DevicesRow[]> {
  const { opened, tokenizer } = await openStories260K();
  const source = opened.weights;
  const config = source.config;
  // As the CLI counts them: weight bytes over 4.
  const parameters = opened.weightBytes / 4;
  const pruneOptions = options(quick, config, parameters);
  const calibrationText = readFileSync(
    path.join(repoRoot, 'public', CALIBRATION_TEXTS.tinystories.file),
    'utf8',
  );
  const counts = quick ? [1, 2] : [1, 2, 4];
  const rows: DevicesRow[] = [];
  let reference: Uint8Array | null = null;
  let oneMs = Number.NaN;
  for (const devices of counts) {
    process.stderr.write(`  devices · stories260K FISTAPruner on ${devices} … `);
    const made: GpuRuntime[] = [];
    const current = new Map<number, GpuRuntime>();
    // One runtime per slot, made before the clock starts so device creation is not timed.
    for (let slot = 0; slot < devices; slot++) {
      const rt = await createNodeRuntime();
      made.push(rt);
      current.set(slot, rt);
    }
    let pruneMs = Number.NaN;
    try {
      const job = new PruneJob(
        {
          source,
          tokenizer,
          acquire: async (slot = 0) => {
            let rt = current.get(slot);
            if (!rt || rt.isLost) {
              rt = await createNodeRuntime();
              made.push(rt);
              current.set(slot, rt);
            }
            return rt;
          },
          devices,
          readCalibration: async () => calibrationText,
          evalTokens: async () => [],
          onProgress: () => {},
          onEngineEvent: () => {},
          gpuTime: false,
          phase: async (name, body) => {
            const started = performance.now();
            try {
              return await body();
            } finally {
              if (name === 'pruning') pruneMs = performance.now() - started;
            }
          },
        },
        pruneOptions,
        null,
      );
      const result = await job.run();
      const bytes = writeSafetensors(await hfTensorsForExport(result.pruned));
      reference ??= bytes;
      if (devices === 1) oneMs = pruneMs;
      const row: DevicesRow = {
        devices,
        ranges: Math.min(devices, result.summary.blocks.length),
        pruneMs,
        speedup: oneMs / pruneMs,
        weightBytes: bytes.byteLength,
        sameBytes: equalBytes(bytes, reference),
      };
      if (!row.sameBytes) row.error = `the weights on ${devices} devices differ from those on 1`;
      rows.push(row);
      process.stderr.write(`${num(pruneMs / 1000)} s, ×${num(row.speedup)}\n`);
    } catch (error) {
      process.stderr.write('FAILED\n');
      rows.push({
        devices,
        ranges: 0,
        pruneMs: Number.NaN,
        speedup: Number.NaN,
        weightBytes: 0,
        sameBytes: false,
        error: error instanceof Error ? error.message : String(error),
      });
    } finally {
      for (const rt of made) if (!rt.isLost) rt.destroy();
    }
  }
  return rows;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function formatDevices(rows: readonly DevicesRow[]): string {
  const head = ['devices', 'ranges', 'prune s', 'speed-up', 'weights', 'same bytes'];
  const body = rows.map((r) =>
    r.error && r.ranges === 0
      ? [String(r.devices), '', '', '', '', `FAILED: ${r.error}`]
      : [
          String(r.devices),
          String(r.ranges),
          num(r.pruneMs / 1000),
          `×${num(r.speedup)}`,
          `${r.weightBytes} B`,
          r.sameBytes ? 'yes' : 'NO',
        ],
  );
  return [
    'Pruning on several devices: stories260K, FISTAPruner, small calibration, one run (speed-up = 1-device prune time / n-device)',
    ...alignedRows(head, body, (column) => column === 5),
  ].join('\n');
}
