// Where a pruning run stands: its four stages, one bar with a known total (every statistics pass
// and every operator of every block), the perplexity passes' windows, GPU memory, and a status
// line read out to screen readers as it changes.

import type { PruneStage } from '../../worker/api';
import { formatBytes } from '../shell/format';
import { ProgressRow } from '../shell/ProgressBar';
import { type PerplexityProgress, type PruneJobState, pruneProgress } from './pruneReducer';

const STAGES: { stage: PruneStage; label: string }[] = [
  { stage: 'calibration', label: 'Calibration' },
  { stage: 'before', label: 'Perplexity before' },
  { stage: 'prune', label: 'Pruning' },
  { stage: 'after', label: 'Perplexity after' },
];

export function PruneProgress({ job, evaluate }: { job: PruneJobState; evaluate: boolean }) {
  const current = STAGES.findIndex((s) => s.stage === job.stage);
  const finished = job.status === 'finished';
  return (
    <div className="prune-progress">
      <ol className="stages" aria-label="Stages">
        {STAGES.filter((s) => evaluate || (s.stage !== 'before' && s.stage !== 'after')).map((s) => {
          const index = STAGES.indexOf(s);
          const state =
            finished || (current > index && job.status !== 'idle')
              ? 'done'
              : index === current && job.status === 'running'
                ? 'active'
                : index === current && job.status !== 'idle'
                  ? job.status
                  : 'waiting';
          return (
            <li
              key={s.stage}
              className={`stage stage-${state}`}
              data-testid={`prune-stage-${s.stage}`}
              data-state={state}
            >
              {s.label}
              {s.stage === 'before' && <PerplexityCount p={job.before} />}
              {s.stage === 'after' && <PerplexityCount p={job.after} />}
            </li>
          );
        })}
      </ol>

      <ProgressRow
        label="Pruning progress: statistics passes and operators"
        testId="prune-progress"
        job={job}
        count={pruneProgress(job)}
      />
      <p
        className="muted small prune-detail"
        data-testid="prune-detail"
        data-pruned-on-disk={job.calibration ? String(job.calibration.plan.prunedElsewhere) : undefined}
      >
        {detail(job)}
      </p>
    </div>
  );
}

function PerplexityCount({ p }: { p: PerplexityProgress | null }) {
  if (!p) return null;
  return <span className="muted small"> {p.cached ? '(cached)' : `${p.done}/${p.total}`}</span>;
}

/** What the bar counts right now, in words. */
function detail(job: PruneJobState): string {
  const parts: string[] = [];
  if (job.calibration) {
    const { windows, seqLen, plan } = job.calibration;
    parts.push(`${windows} calibration windows × ${seqLen} tokens`);
    parts.push(
      `planned peak: ${formatBytes(plan.gpuPeakBytes)} on the GPU (${plan.gpuPeakPhase}), ${formatBytes(plan.hostBytes)} in this tab${plan.prunedElsewhere ? ' (pruned matrices on disk, OPFS)' : ''}`,
    );
  }
  if (job.blocks.length > 0) {
    parts.push(
      `${job.blocks.length} blocks × (${job.operatorsPerBlock.length} operators + ${job.passesPerBlock} statistics pass${job.passesPerBlock === 1 ? '' : 'es'})`,
    );
  }
  if (job.status === 'running' && job.stage === 'prune') {
    if (job.current)
      parts.push(
        `now: block ${job.current.block}, ${job.current.operator} (${job.current.rows}×${job.current.cols})`,
      );
    else if (job.statistics)
      parts.push(
        `now: block ${job.statistics.block} statistics for ${job.statistics.operators.join(', ')}, window ${job.statistics.windowsDone}/${job.statistics.windowsTotal}`,
      );
  }
  return parts.join(' · ');
}

/** The status line (aria-live): one sentence per state. */
export function pruneStatus(job: PruneJobState, hasModel: boolean): string {
  switch (job.status) {
    case 'idle':
      return hasModel ? 'Not run yet.' : 'Load a model to prune it.';
    case 'running': {
      if (job.cancelRequested) return 'Cancelling after the current step…';
      if (job.stage === 'calibration') return 'Sampling calibration windows…';
      if (job.stage === 'before')
        return `Perplexity of the dense model… ${job.before ? `${job.before.done}/${job.before.total}` : ''}`;
      if (job.stage === 'after')
        return `Perplexity of the pruned model… ${job.after ? `${job.after.done}/${job.after.total}` : ''}`;
      const { done, total } = pruneProgress(job);
      return total > 0 ? `Pruning: step ${done} of ${total}…` : 'Pruning…';
    }
    case 'finished': {
      const run = job.run;
      if (!run) return 'Done.';
      const sparsity = `${(100 * run.summary.sparsity).toFixed(2)}% sparse`;
      const ppl =
        run.pplBefore !== null && run.pplAfter !== null
          ? `, perplexity ${run.pplBefore.toFixed(3)} → ${run.pplAfter.toFixed(3)}`
          : '';
      return `Done: ${sparsity}${ppl}, in ${(run.totalMs / 1000).toFixed(1)} s.`;
    }
    case 'cancelled':
      return `Cancelled during ${STAGES.find((s) => s.stage === job.stage)?.label.toLowerCase() ?? 'the run'}.`;
    case 'error':
      return `Stopped: ${job.error?.kind ?? 'error'}.`;
  }
}
