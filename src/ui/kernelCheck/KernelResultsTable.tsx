// One row per kernel case. The error is shown beside its bound because a pass means nothing
// without knowing how tight the bound was; a case that threw shows its message under its row.

import { Fragment } from 'react';
import type { KernelCaseResult } from '../../kernels/suiteCase';
import { formatError, formatMs, formatRate } from '../shell/format';
import { num, ScrollTable } from '../shell/TableHead';

export function KernelResultsTable({ results }: { results: readonly KernelCaseResult[] }) {
  return (
    <ScrollTable
      className="table results"
      data-testid="kernel-check-results"
      columns={[
        'Kernel',
        'Shape',
        num('Error'),
        num('Bound'),
        'Result',
        num('ms'),
        num('GFLOP/s'),
        num('GB/s'),
      ]}
    >
      {results.map((r, index) => (
        // Names repeat across shapes, and a case runs once per check, so its position is its identity.
        // biome-ignore lint/suspicious/noArrayIndexKey: see above
        <Fragment key={index}>
          <tr data-testid="kernel-row" data-status={r.passed ? 'pass' : 'fail'}>
            <td>{r.name}</td>
            <td className="mono">{r.shape}</td>
            <td className="num mono">{formatError(r.error)}</td>
            <td className="num mono">{formatError(r.bound)}</td>
            <td>
              <span className={`badge ${r.passed ? 'badge-yes' : 'badge-no'}`}>
                {r.passed ? 'pass' : 'fail'}
              </span>
            </td>
            <td className="num">{formatMs(r.ms)}</td>
            <td className="num">{formatRate(r.gflops)}</td>
            <td className="num">{formatRate(r.gbps)}</td>
          </tr>
          {r.failure && (
            <tr className="failure-row">
              <td colSpan={8} className="mono small">
                {r.failure}
              </td>
            </tr>
          )}
        </Fragment>
      ))}
    </ScrollTable>
  );
}
