// The run's numbers as tables, beside the charts: each arm's progress and latest losses, the exact
// optimizer-state bytes against AdamW's formula, and an Adapprox arm's rank, error and clamping per
// matrix at its last step. The tables carry the exact values (data-*) that the charts round.

import { formatBytes } from '../shell/format';
import { num, ScrollTable, TableHead } from '../shell/TableHead';
import { adamwBytes, memoryRows } from './trainChartData';
import type { ArmTrace, RankTrace, TrainJobState } from './trainReducer';

const loss = (x: number | undefined) => (x === undefined ? '—' : x.toFixed(4));

/** An arm that has not stopped on its own is where the run is. */
function armState(status: TrainJobState['status']): string {
  if (status === 'finished') return 'done';
  if (status === 'cancelled') return 'cancelled';
  if (status === 'error') return 'stopped';
  return status === 'paused' ? 'paused' : 'training';
}

export function ArmsTable({ job }: { job: TrainJobState }) {
  if (job.arms.length === 0) return null;
  return (
    <ScrollTable
      className="table train-arms-table"
      data-testid="train-arms-table"
      caption={<caption>Arms</caption>}
      columns={[
        'Arm',
        num('Steps'),
        num('Training loss'),
        num('Validation loss'),
        num('Learning rate now'),
        num('Tokens/s'),
        'State',
      ]}
    >
      {job.arms.map((a) => {
        const lastVal = a.validation.at(-1);
        return (
          <tr
            key={a.id}
            data-testid="train-arm-series"
            data-arm={a.id}
            data-train-points={a.train.length}
            data-validation-points={a.validation.length}
          >
            <th scope="row">{a.label}</th>
            <td className="num">
              {a.train.length} / {a.stopped ? a.train.length : job.steps}
            </td>
            <td className="num">{loss(a.train.at(-1)?.[1])}</td>
            <td className="num">
              {loss(lastVal?.[1])}
              {lastVal && <span className="muted small"> (step {lastVal[0]})</span>}
            </td>
            <td className="num">{a.lr === null ? '—' : a.lr.toExponential(2)}</td>
            <td className="num">{a.tokensPerSecond.at(-1)?.[1].toFixed(0) ?? '—'}</td>
            <td className={a.stopped ? 'field-error' : undefined}>
              {a.stopped ? `stopped at step ${a.stopped.step}` : armState(job.status)}
            </td>
          </tr>
        );
      })}
    </ScrollTable>
  );
}

export function MemoryTable({ arms, parameters }: { arms: readonly ArmTrace[]; parameters: number }) {
  const rows = memoryRows(arms, parameters);
  if (rows.length <= 1) return null;
  const reference = adamwBytes(parameters);
  return (
    <div className="table-scroll">
      <table className="table" data-testid="train-memory-table">
        <caption>
          Optimizer state, exact (the ledger’s bytes, which the engine checks against the formulas of
          docs/algorithms/adapprox.md §2)
        </caption>
        <TableHead
          columns={[
            'Arm',
            num('State bytes'),
            num('Of AdamW’s 2·4·P'),
            num('Saved'),
            num('Step scratch (measured)'),
          ]}
        />
        <tbody>
          {rows.map((r) => {
            const arm = arms.find((a) => a.id === r.id);
            return (
              <tr
                key={r.id}
                data-testid="train-memory-row"
                data-arm={r.id}
                data-bytes={r.bytes}
                data-saved={r.saved}
                className={r.analytical ? 'muted' : undefined}
              >
                <th scope="row">{r.label}</th>
                <td className="num" data-testid="train-memory-bytes">
                  {r.bytes.toLocaleString('en-US')} B
                  <span className="muted small"> ({formatBytes(r.bytes)})</span>
                </td>
                <td className="num">{((100 * r.bytes) / reference).toFixed(2)}%</td>
                <td className="num" data-testid="train-memory-saved">
                  {r.analytical ? '—' : `${(100 * r.saved).toFixed(2)}%`}
                </td>
                <td className="num">
                  {arm?.measuredTransient == null ? '—' : formatBytes(arm.measuredTransient)}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      <p className="muted small">
        P = {parameters.toLocaleString('en-US')} parameters. Adapprox keeps M (m·n, with β1 &gt; 0) and Q, U
        (k·(m + n)) per factored matrix at its current rank k, and a dense V (+ M) for vectors and matrices
        with a side under 8; the paper’s 34.5–49.9% (with M) and 84.5–99.9% (without) are the ends k = k_max
        and k = 1 at GPT-2 scale (docs/algorithms/adapprox.md §3).
      </p>
    </div>
  );
}

export function RankTable({ arm, trace }: { arm: string; trace: RankTrace }) {
  return (
    <details className="details">
      <summary>Rank, error and clamping per matrix at step {trace.steps.at(-1)}</summary>
      <ScrollTable
        className="table"
        data-testid="train-rank-table"
        columns={['Matrix', num('Rank k'), num('ξ (sketch)'), num('History entries clamped')]}
      >
        {trace.last.map((s) => (
          <tr
            key={s.name}
            data-testid="train-rank-row"
            data-arm={arm}
            data-matrix={s.name}
            data-rank={s.rank}
          >
            <th scope="row" className="mono">
              {s.name}
            </th>
            <td className="num">{s.rank}</td>
            <td className="num">{s.relativeError.toExponential(2)}</td>
            <td className="num">{(100 * s.clampedFraction).toFixed(2)}%</td>
          </tr>
        ))}
      </ScrollTable>
    </details>
  );
}
