// What the engine got from the browser: which adapter, which optional features, and the limits it
// negotiated. Limits decide how every kernel is tiled, so the card shows both what the adapter
// offers and what was granted, and which rung of the fallback ladder succeeded.

import { type CapabilityReport, type LimitName, PROBED_FEATURES } from '../../gpu/device';
import { formatLimit } from './format';
import { num, ScrollTable } from './TableHead';

export function CapabilityCard({ report }: { report: CapabilityReport }) {
  const limitNames = Object.keys(report.adapterLimits) as LimitName[];
  return (
    <section className="card capability" data-testid="capability-card" aria-labelledby="capability-title">
      <h2 id="capability-title">GPU</h2>
      <div className="capability-grid">
        <div>
          <dl className="facts">
            <dt>Vendor</dt>
            <dd data-testid="adapter-vendor">{report.vendor || '—'}</dd>
            <dt>Architecture</dt>
            <dd data-testid="adapter-architecture">{report.architecture || '—'}</dd>
            <dt>Device</dt>
            <dd>{report.device || '—'}</dd>
            <dt>Description</dt>
            <dd>{report.description || '—'}</dd>
            <dt>Fallback adapter</dt>
            <dd>
              {report.isFallbackAdapter ? (
                <span
                  className="badge badge-warn"
                  title="A software or compatibility adapter: correct, but slow."
                >
                  yes
                </span>
              ) : (
                <span className="badge badge-yes">no</span>
              )}
            </dd>
            <dt>Limits ladder</dt>
            <dd>{describeLadder(report)}</dd>
          </dl>
          <h3>Features</h3>
          <ul className="features">
            {PROBED_FEATURES.map((feature) => (
              <li key={feature}>
                <code>{feature}</code>
                <span className={`badge ${report.features[feature] ? 'badge-yes' : 'badge-off'}`}>
                  {report.features[feature] ? 'yes' : 'no'}
                </span>
              </li>
            ))}
          </ul>
          {report.ladderFailures.length > 0 && (
            <details className="details">
              <summary>Why the higher rungs failed</summary>
              <ul className="mono small">
                {report.ladderFailures.map((failure) => (
                  <li key={failure}>{failure}</li>
                ))}
              </ul>
            </details>
          )}
          <details className="details">
            <summary>All {report.adapterFeatures.length} adapter features</summary>
            <p className="mono small">{report.adapterFeatures.join(', ')}</p>
          </details>
        </div>
        <ScrollTable
          className="table limits"
          caption={<caption>Negotiated limits</caption>}
          columns={['Limit', num('Adapter'), num('Granted')]}
        >
          {limitNames.map((name) => {
            const granted = report.limits[name];
            const adapter = report.adapterLimits[name];
            return (
              <tr key={name} className={granted < adapter ? 'reduced' : undefined}>
                <th scope="row">
                  <code>{name}</code>
                </th>
                <td className="num" title={String(adapter)}>
                  {formatLimit(name, adapter)}
                </td>
                <td className="num" title={String(granted)}>
                  {formatLimit(name, granted)}
                </td>
              </tr>
            );
          })}
        </ScrollTable>
      </div>
    </section>
  );
}

function describeLadder({ ladderStep, ladderSteps }: CapabilityReport): string {
  const rung = `rung ${ladderStep + 1} of ${ladderSteps}`;
  if (ladderStep === 0) return `${rung}: the adapter's full limits`;
  if (ladderStep === ladderSteps - 1) return `${rung}: WebGPU's default limits`;
  return `${rung}: reduced buffer limits`;
}
