// What the JSON report records about where it ran: versions, host and Vulkan driver selection.

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { projectRoot } from '../src/host/projectRoot';

/** The repository root, wherever the bundle put this module (dist-node/ or a shared chunk). */
export const repoRoot = projectRoot();

function packageVersion(file: string): string | null {
  try {
    return (
      (JSON.parse(readFileSync(path.join(repoRoot, file), 'utf8')) as { version?: string }).version ?? null
    );
  } catch {
    return null;
  }
}

function gitDescribe(): string | null {
  try {
    return execFileSync('git', ['describe', '--always', '--dirty'], {
      cwd: repoRoot,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return null;
  }
}

export function environment() {
  const cpus = os.cpus();
  return {
    versions: {
      node: process.version,
      package: packageVersion('package.json'),
      webgpu: packageVersion('node_modules/webgpu/package.json'),
      vite: packageVersion('node_modules/vite/package.json'),
      git: gitDescribe(),
    },
    host: {
      platform: process.platform,
      arch: process.arch,
      release: os.release(),
      cpuModel: cpus[0]?.model ?? null,
      cpus: cpus.length,
      totalMemBytes: os.totalmem(),
    },
    env: {
      VK_ICD_FILENAMES: process.env.VK_ICD_FILENAMES ?? null,
    },
  };
}

/** A point for measuring how much CPU time other processes took (they skew every number here). */
export interface CpuSnapshot {
  wallMs: number;
  /** Busy CPU time of the whole machine, summed over CPUs. */
  machineBusyMs: number;
  /** CPU time of this process (the JS loop, Dawn's threads and SwiftShader's workers). */
  ownMs: number;
}

export function cpuSnapshot(): CpuSnapshot {
  let busy = 0;
  for (const { times } of os.cpus()) busy += times.user + times.nice + times.sys + times.irq;
  const own = process.cpuUsage();
  return { wallMs: performance.now(), machineBusyMs: busy, ownMs: (own.user + own.system) / 1000 };
}

/** The fraction of the machine's CPU capacity other processes used between two snapshots. */
export function otherCpuShare(from: CpuSnapshot, to: CpuSnapshot): number {
  const capacity = (to.wallMs - from.wallMs) * os.cpus().length;
  if (capacity <= 0) return 0;
  const other = to.machineBusyMs - from.machineBusyMs - (to.ownMs - from.ownMs);
  return Math.min(1, Math.max(0, other / capacity));
}

/** The fraction of the machine's CPU capacity other processes use over the next `ms` milliseconds. */
export async function otherCpuOver(ms: number): Promise<number> {
  const from = cpuSnapshot();
  await new Promise((resolve) => setTimeout(resolve, ms));
  return otherCpuShare(from, cpuSnapshot());
}
