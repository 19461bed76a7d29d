// Every training run of this session, newest first, with its arms: final losses and state bytes,
// and for the runs whose weights the worker still holds, each arm saved as a model (.tar of
// safetensors, config.json and the tokenizer) or opened directly in the pruning studio.

import { num, ScrollTable } from '../shell/TableHead';
import { useTrainStudio } from './trainStore';

const loss = (x: number | null) => (x === null ? '—' : x.toFixed(4));

export function TrainRunsTable({ onOpened }: { onOpened: () => void }) {
  const runs = useTrainStudio((s) => s.runs);
  const busy = useTrainStudio((s) => s.busy);
  const actionError = useTrainStudio((s) => s.actionError);
  const { saveArm, openArm, forgetRun } = useTrainStudio.getState();
  const running = useTrainStudio((s) => ['preparing', 'running', 'paused'].includes(s.job.status));
  if (runs.length === 0) return null;

  return (
    <div className="results-block" data-testid="train-runs">
      <h3>Runs of this session</h3>
      {actionError && (
        <div className="notice notice-error" role="alert" data-testid="train-action-error">
          <p>{actionError.message}</p>
          <p>{actionError.advice}</p>
        </div>
      )}
      <ScrollTable
        className="table prune-runs"
        columns={[
          'Run',
          'Arm',
          num('Steps'),
          num('Training loss'),
          num('Validation loss'),
          num('State bytes'),
          'Model',
        ]}
      >
        {[...runs].reverse().flatMap((run) =>
          run.summary.arms.map((arm, i) => (
            <tr
              key={`${run.id}/${arm.id}`}
              data-testid="train-run-row"
              data-run={run.id}
              data-arm={arm.id}
              data-status={run.status}
            >
              {i === 0 && (
                <th scope="rowgroup" rowSpan={run.summary.arms.length}>
                  <div>{run.modelName}</div>
                  <div className="muted small">
                    {run.dataLabel} · {run.options.steps} steps × {run.options.batch} × {run.options.seqLen}{' '}
                    tokens · seed {run.options.seed}
                  </div>
                  <div className={`small status-${run.status}`} data-testid="train-run-status">
                    {run.status === 'finished'
                      ? 'finished'
                      : run.status === 'cancelled'
                        ? `cancelled at step ${run.weightsStep}`
                        : `failed; weights of step ${run.weightsStep} (last validation) kept`}
                  </div>
                  <button
                    type="button"
                    className="link-button small"
                    disabled={running}
                    onClick={() => void forgetRun(run.id)}
                  >
                    Forget
                  </button>
                </th>
              )}
              <td>
                {arm.label}
                <div className="muted small">lr {arm.lr}</div>
                {arm.stopped && <div className="field-error small">{arm.stopped}</div>}
              </td>
              <td className="num">{arm.steps}</td>
              <td className="num">{loss(arm.finalTrainLoss)}</td>
              <td className="num">{loss(arm.finalValidationLoss)}</td>
              <td className="num">{arm.state.persistent.toLocaleString('en-US')} B</td>
              <td>
                {run.exportable ? (
                  <div className="row-actions">
                    <button
                      type="button"
                      className="button button-small"
                      data-testid="train-arm-save"
                      disabled={busy !== null}
                      title="model.safetensors, config.json and the tokenizer, as one .tar"
                      onClick={() => void saveArm(run.id, arm.id)}
                    >
                      Save .tar
                    </button>
                    <button
                      type="button"
                      className="button button-small"
                      data-testid="train-arm-open"
                      disabled={busy !== null || running}
                      title="Load this arm as the current model, to evaluate or prune it"
                      onClick={() =>
                        void openArm(run.id, arm.id).then((loaded) => {
                          if (loaded) onOpened();
                        })
                      }
                    >
                      {busy === `${run.id}/${arm.id}` ? 'Working…' : 'Open in pruning studio'}
                    </button>
                  </div>
                ) : (
                  <span className="muted small">
                    weights dropped (the newest runs’ are kept; rerun this one, it is seeded)
                  </span>
                )}
              </td>
            </tr>
          )),
        )}
      </ScrollTable>
    </div>
  );
}
