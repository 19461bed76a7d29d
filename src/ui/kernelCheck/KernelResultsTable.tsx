// One row per kernel case. The error is shown beside its bound because a pass means nothing
// without knowing how tight the bound was; a case that threw shows its message under its row.

import { Fragment } from 'react';
import type { KernelCaseResult } from '../../kernels/suiteCase';
import { formatError, formatMs, formatRate } from '../shell/format';

export function KernelResultsTable({ results }: { results: readonly KernelCaseResult[] }) {
  return (
    <div className="table-scroll">
      <table className="table results" data-testid="kernel-check-results">
        <thead>
          <tr>
            <th scope="col">Kernel</th>
            <th scope="col">Shape</th>
            <th scope="col" className="num">
              Error
            </th>
            <th scope="col" className="num">
              Bound
            </th>
            <th scope="col">Result</th>
            <th scope="col" className="num">
              ms
            </th>
            <th scope="col" className="num">
              GFLOP/s
            </th>
            <th scope="col" className="num">
              GB/s
            </th>
          </tr>
        </thead>
        <tbody>
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
        </tbody>
      </table>
    </div>
  );
}
