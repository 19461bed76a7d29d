// The pieces every long job's progress row shares: the bar (done of a known total, coloured by the
// job's state through the status-* classes) and the GPU memory the job holds now and held at most;
// and the row of a job counted in steps, which puts them together.

import type { ReactNode } from 'react';
import { formatBytes } from './format';

export function ProgressBar({
  label,
  done,
  total,
  status,
  full = false,
}: {
  label: string;
  done: number;
  total: number;
  /** The job's state, as a status-* class. */
  status: string;
  /** Drawn full whatever the count (a run that ended before its estimated total). */
  full?: boolean;
}) {
  const percent = full ? 100 : total > 0 ? (100 * done) / total : 0;
  return (
    <div
      className="progress"
      role="progressbar"
      aria-label={label}
      aria-valuemin={0}
      aria-valuemax={total}
      aria-valuenow={done}
    >
      <div className={`progress-fill status-${status}`} style={{ width: `${percent}%` }} />
    </div>
  );
}

/** GPU buffers live now and at the peak of the job (`what`: run, check). */
export function GpuMemory({
  memory,
  what = 'run',
}: {
  memory: { liveBytes: number; peakBytes: number } | null;
  what?: string;
}) {
  if (!memory) return null;
  return (
    <span className="memory" title={`GPU buffers live now, and the most that were live during this ${what}.`}>
      GPU memory {formatBytes(memory.liveBytes)} live · {formatBytes(memory.peakBytes)} peak
    </span>
  );
}

interface ProgressRowProps {
  /** The bar's accessible name. */
  label: string;
  /** The count's test id; the count also carries its numbers as data-done and data-total. */
  testId: string;
  /** The job's state (a finished job's bar is drawn full) and the GPU memory it holds. */
  job: { status: string; memory: { liveBytes: number; peakBytes: number } | null };
  count: { done: number; total: number };
  /** What the memory's title calls the job (run, check). */
  what?: string;
  /** Shown between the bar and the memory (an ETA). */
  children?: ReactNode;
}

/**
 * A job's progress row: "done / total" (a dash before the total is known), the bar, and the GPU
 * memory. A finished job's bar is full even where it ended before its estimated total.
 */
export function ProgressRow({
  label,
  testId,
  job,
  count: { done, total },
  what,
  children,
}: ProgressRowProps) {
  return (
    <div className="progress-row">
      <span className="progress-count" data-testid={testId} data-done={done} data-total={total}>
        {done} / {total || '–'}
      </span>
      <ProgressBar
        label={label}
        done={done}
        total={total}
        status={job.status}
        full={job.status === 'finished'}
      />
      {children}
      <GpuMemory memory={job.memory} what={what} />
    </div>
  );
}
