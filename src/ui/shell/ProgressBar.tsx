// The pieces every long job's progress row shares: the bar (done of a known total, coloured by the
// job's state through the status-* classes) and the GPU memory the job holds now and held at most.

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
