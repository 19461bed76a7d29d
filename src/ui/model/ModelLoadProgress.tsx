// Loading progress in bytes: what the GPU will hold, how much of it is there, which step of which
// tensor the worker is on, and when it should be done. A large checkpoint over a network takes
// minutes, and a bar that only moves per file would look stuck.

import type { LoadPhase } from '../../worker/api';
import { formatBytes, formatDuration } from '../shell/format';
import { ProgressBar } from '../shell/ProgressBar';
import type { LoadState } from './modelReducers';

const PHASE_TEXT: Record<LoadPhase, string> = {
  read: 'reading',
  parse: 'converting',
  upload: 'uploading',
};

export function ModelLoadProgress({ load }: { load: LoadState }) {
  return (
    <div className="progress-row" data-testid="model-load-progress">
      <span className="progress-count">
        {formatBytes(load.bytesDone)} / {load.bytesTotal > 0 ? formatBytes(load.bytesTotal) : '–'}
      </span>
      <ProgressBar
        label="Model load progress"
        done={load.bytesDone}
        total={load.bytesTotal}
        status={progressStatus(load)}
      />
      {load.status === 'loading' && (
        <span className="memory">
          {load.phase ? PHASE_TEXT[load.phase] : 'starting'}
          {load.item && (
            <>
              {' '}
              <code>{load.item}</code>
            </>
          )}
          {load.etaMs !== null && ` · ${formatDuration(load.etaMs)} left`}
        </span>
      )}
    </div>
  );
}

function progressStatus(load: LoadState): string {
  switch (load.status) {
    case 'loaded':
      return 'finished';
    case 'loading':
      return 'running';
    default:
      return load.status;
  }
}
