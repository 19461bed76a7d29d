// One run's record per pruned matrix: shape, sparsity counted on the weights read back, the
// reconstruction error (and, for FISTAPruner, its warm start's and the λ kept), the GPU→CPU
// read-backs the operator waited for (runs from before the counters have none), and the time.

import type { PruneRun } from '../../worker/api';
import { formatError, formatMs } from '../shell/format';
import { num, ScrollTable } from '../shell/TableHead';

export function PruneMatrixTable({ run }: { run: PruneRun }) {
  const fista = run.summary.method === 'fista';
  const matrices = run.summary.blocks.flatMap((b) => b.matrices);
  const counted = matrices.some((m) => m.counters);
  return (
    <ScrollTable
      className="table prune-matrices"
      data-testid="prune-matrices"
      caption={
        <caption className="muted small">
          Overall sparsity{' '}
          <span data-testid="prune-overall-sparsity" data-sparsity={String(run.summary.sparsity)}>
            {(100 * run.summary.sparsity).toFixed(2)}%
          </span>{' '}
          over {matrices.length} matrices, {run.summary.calibrationTokens.toLocaleString('en-US')} calibration
          tokens
        </caption>
      }
      columns={[
        'Matrix',
        num('Shape'),
        num('Sparsity'),
        num('Relative error'),
        fista && num("Warm start's"),
        fista && num('λ kept'),
        counted && { label: 'Read-backs', num: true, title: 'GPU→CPU copies the operator waited for' },
        num('ms'),
      ]}
    >
      {matrices.map((m) => (
        <tr
          key={m.tensor}
          data-testid="prune-matrix-row"
          data-tensor={m.tensor}
          data-sparsity={String(m.sparsity)}
        >
          <th scope="row" className="mono">
            {m.tensor}
          </th>
          <td className="num">
            {m.rows}×{m.cols}
          </td>
          <td className="num">{(100 * m.sparsity).toFixed(2)}%</td>
          <td className="num">{formatError(m.relativeError)}</td>
          {fista && (
            <td className="num">
              {m.warmStartError === undefined
                ? '—'
                : formatError(m.warmStartError / (m.error / m.relativeError || 1))}
            </td>
          )}
          {fista && <td className="num">{m.lambda === undefined ? '—' : formatError(m.lambda)}</td>}
          {counted && (
            <td className="num" data-testid="prune-matrix-readbacks">
              {m.counters ? m.counters.readbacks : '—'}
            </td>
          )}
          <td className="num">{formatMs(m.ms)}</td>
        </tr>
      ))}
    </ScrollTable>
  );
}
