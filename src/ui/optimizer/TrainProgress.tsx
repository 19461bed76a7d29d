// A training run's progress as the Optimizer panel and a paper demo show it: arm-steps done of the
// known total with an ETA, the GPU memory live and at peak, and a one-sentence status per state.

import { formatDuration } from '../shell/format';
import { ProgressRow } from '../shell/ProgressBar';
import { type TrainJobState, trainEta, trainProgress } from './trainReducer';

export function TrainProgress({ job }: { job: TrainJobState }) {
  const eta = trainEta(job);
  return (
    <ProgressRow
      label="Training progress: steps of every arm"
      testId="train-progress"
      job={job}
      count={trainProgress(job)}
    >
      <span className="memory" data-testid="train-eta">
        {job.arms.length > 0 && `${job.steps} steps × ${job.arms.length} arms`}
        {eta !== null && ` · about ${formatDuration(eta)} left`}
        {job.elapsedMs > 0 && ` · ${formatDuration(job.elapsedMs)} training`}
      </span>
    </ProgressRow>
  );
}

/** The status line (aria-live): one sentence per state. */
export function trainStatus(job: TrainJobState): string {
  const { done, total } = trainProgress(job);
  switch (job.status) {
    case 'idle':
      return 'Not run yet.';
    case 'preparing':
      return job.cancelRequested
        ? 'Cancelling…'
        : `Preparing: ${job.dataLabel ?? 'the text'} is fetched and tokenized, the arms are set up…`;
    case 'running':
      if (job.cancelRequested) return 'Cancelling after the current step…';
      if (job.pauseRequested) return 'Pausing after the current step…';
      return total > 0 ? `Training: ${done} of ${total} arm-steps…` : 'Validating the starting weights…';
    case 'paused':
      return `Paused after ${done} of ${total} arm-steps.`;
    case 'finished':
      return `Done: ${job.arms.length} arms × ${job.steps} steps in ${formatDuration(job.elapsedMs)}.`;
    case 'cancelled':
      return `Cancelled after ${done} of ${total} arm-steps${job.runId ? '; the arms’ weights are kept below' : ''}.`;
    case 'error':
      return `Stopped: ${job.error?.kind ?? 'error'}.`;
  }
}
