// The models this browser keeps from URL folders: each with its size and a delete button, the
// total, whether the browser will keep them (persistent storage) and how much the site uses.

import { useEffect } from 'react';
import { DeleteAll } from '../shell/DeleteAll';
import { ErrorNotice } from '../shell/ErrorNotice';
import { formatBytes } from '../shell/format';
import { ACTIONS, ScrollTable } from '../shell/TableHead';
import { type Persistence, useModelCache } from './modelCacheStore';

const PERSISTENCE: Record<Persistence, string> = {
  granted: 'storage is persistent: the browser keeps these files until you delete them',
  denied:
    'the browser did not grant persistent storage, so it may clear these files when disk space runs low',
  unsupported:
    'this browser cannot make storage persistent; it may clear these files when disk space runs low',
  unknown: 'persistent storage is asked for when a model is opened by URL',
};

export function ModelCacheList() {
  const { status, models, totalBytes, unavailable, problems, error, persistence, estimate } = useModelCache();
  const { refresh, remove, removeAll } = useModelCache.getState();

  useEffect(() => {
    void refresh();
  }, [refresh]);

  return (
    <section className="model-cache" data-testid="model-cache" aria-labelledby="model-cache-title">
      <h3 id="model-cache-title">Models stored in this browser</h3>
      {status === 'unavailable' ? (
        <div className="notice notice-warn" role="status" data-testid="model-cache-unavailable">
          <p>{unavailable}</p>
          <p>Models opened by URL are read from the network on every visit instead.</p>
        </div>
      ) : (
        <p className="small muted" data-testid="model-cache-storage" data-persistence={persistence}>
          {status === 'ready'
            ? `${models.length} model${models.length === 1 ? '' : 's'}, ${formatBytes(totalBytes)} in all`
            : 'Reading the stored models…'}
          {` · ${PERSISTENCE[persistence]}`}
          {estimate &&
            ` · this site uses ${formatBytes(estimate.usage)} of the ${formatBytes(estimate.quota)} the browser allows it`}
        </p>
      )}
      <ErrorNotice error={error} testId="model-cache-error" />
      {problems.length > 0 && (
        <div className="notice notice-warn" role="status" data-testid="model-cache-problems">
          {problems.map((p) => (
            <p key={p}>{p}</p>
          ))}
        </div>
      )}
      {models.length > 0 && (
        <ScrollTable
          className="table"
          aria-labelledby="model-cache-title"
          columns={['Folder', 'Stored', 'Size', ACTIONS]}
        >
          {models.map((m) => (
            <tr key={m.url} data-testid="model-cache-row" data-url={m.url} data-bytes={m.bytes}>
              <td className="mono small">{m.url}</td>
              <td className="small">{new Date(m.storedAt).toLocaleString()}</td>
              <td
                className="small"
                title={`${m.bytes.toLocaleString('en-US')} bytes in ${m.files.length} files`}
              >
                {formatBytes(m.bytes)}
              </td>
              <td>
                <button
                  type="button"
                  className="button button-small"
                  data-testid="model-cache-delete"
                  aria-label={`Delete the stored copy of ${m.url}`}
                  onClick={() => void remove(m.url)}
                >
                  Delete
                </button>
              </td>
            </tr>
          ))}
        </ScrollTable>
      )}
      {models.length > 1 && (
        <DeleteAll
          testId="model-cache-clear"
          question={<>Delete all {models.length} stored models from this browser?</>}
          onDelete={removeAll}
        />
      )}
    </section>
  );
}
