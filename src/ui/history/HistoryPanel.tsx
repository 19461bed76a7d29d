// The run history: every pruning and evaluation run this browser kept, across visits, and records
// imported from a file (another browser's, or the CLI's). Each can be shown with its charts,
// exported as JSON, run again with its settings, or deleted; the browser's storage estimate says
// how much room the history takes.

import { useEffect, useState } from 'react';
import type { RunRecord } from '../../run/record';
import '../shell/sharing.css';
import { useDemo } from '../demos/demoStore';
import { DeleteAll } from '../shell/DeleteAll';
import { formatBytes } from '../shell/format';
import { rerunOf } from '../shell/studioActions';
import { ACTIONS, ScrollTable } from '../shell/TableHead';
import { useHistory } from './historyStore';
import { describeRecord, KIND_LABELS, RecordView } from './RecordView';
import { perplexitiesOf, trainArmsOf } from './recordBuild';

function headline(record: RunRecord): string {
  const r = record.results;
  const ppl = (v: number | null) => (v === null ? '—' : v.toFixed(3));
  if (record.kind === 'prune') {
    const sparsity = typeof r.sparsity === 'number' ? `${(100 * r.sparsity).toFixed(2)}% sparse` : '';
    const texts = perplexitiesOf(record).map((p) => `, ${p.text} ${ppl(p.before)} → ${ppl(p.after)}`);
    return `${sparsity}${texts.join('')}`;
  }
  if (record.kind === 'eval') return `perplexity ${ppl(typeof r.ppl === 'number' ? r.ppl : null)}`;
  const arms = trainArmsOf(record).map((a) => `${a.id} ${ppl(a.validation)}`);
  return arms.length > 0 ? `validation loss ${arms.join(', ')}` : '';
}

export function HistoryPanel() {
  const { status, records, error, damaged, estimate, selected, importError } = useHistory();
  const { load, remove, clear, importFile, exportRecord, select } = useHistory.getState();
  /** What the last Run again had to say (settings it could not read, another model). */
  const [rerunNotes, setRerunNotes] = useState<string[]>([]);
  const shown = records.find((r) => r.id === selected) ?? null;

  useEffect(() => {
    void load();
  }, [load]);

  const again = async (record: RunRecord) => {
    const run = rerunOf(record);
    if (!run) return;
    setRerunNotes([]);
    setRerunNotes((await run(record)).notes);
  };

  return (
    <section className="card" id="history" aria-labelledby="history-title">
      <h2 id="history-title">Run history</h2>
      <p className="muted">
        Every pruning, perplexity and training run is kept in this browser, finished, cancelled or failed,
        with its settings, the model's and the data's sha256, its numbers and its charts. Import a record from
        another browser or from the CLI to see it here, or to run it again.
      </p>
      <p className="small muted history-storage" data-testid="history-storage">
        {status !== 'ready'
          ? 'Reading the history…'
          : `${records.length} run${records.length === 1 ? '' : 's'} kept`}
        {estimate &&
          ` · this site uses ${formatBytes(estimate.usage)} of the ${formatBytes(estimate.quota)} the browser allows it`}
      </p>

      <div className="toolbar">
        <JsonFileButton label="Import record…" testId="history-import" onFile={importFile} />
        <JsonFileButton
          label="Open demo file…"
          testId="history-open-demo"
          title="A paper demo file: it opens in the demo layout and runs"
          onFile={(file) => useDemo.getState().openFile(file)}
        />
        <DeleteAll
          testId="history-clear"
          question={<>Delete all {records.length} runs from this browser?</>}
          disabled={records.length === 0 && damaged.length === 0}
          onDelete={clear}
        />
      </div>

      {error && (
        <div className="notice notice-error" role="alert" data-testid="history-error">
          <p>{error}</p>
        </div>
      )}
      {importError && (
        <div className="notice notice-error" role="alert" data-testid="history-import-error">
          <p className="mono">{importError}</p>
          <p>Nothing was imported; the history is as it was.</p>
        </div>
      )}
      {damaged.length > 0 && (
        <div className="notice notice-warn" role="status">
          <p>
            {damaged.length} stored entr{damaged.length === 1 ? 'y is' : 'ies are'} not a run record this
            studio reads (first: {damaged[0]}). Delete all to remove {damaged.length === 1 ? 'it' : 'them'}.
          </p>
        </div>
      )}

      {records.length > 0 && (
        <ScrollTable
          className="table history-list"
          aria-labelledby="history-title"
          columns={['Started', 'Run', 'Model', 'Result', ACTIONS]}
        >
          {records.map((r) => (
            <tr
              key={r.id}
              data-testid="history-row"
              data-record={r.id}
              data-kind={r.kind}
              className={r.id === selected ? 'selected-row' : undefined}
            >
              <td className="small">
                {new Date(r.startedAt).toLocaleString()}
                {r.producer === 'cli' && <span className="badge">CLI</span>}
              </td>
              <td>
                {KIND_LABELS[r.kind]}: {describeRecord(r)}{' '}
                <span className={`status-pill status-${r.status}`}>{r.status}</span>
              </td>
              <td className="small">{r.model.name}</td>
              <td className="small">{headline(r)}</td>
              <td>
                <span className="history-actions">
                  <button
                    type="button"
                    className="button button-small"
                    data-testid="history-view"
                    onClick={() => select(r.id === selected ? null : r.id)}
                  >
                    {r.id === selected ? 'Hide' : 'View'}
                  </button>
                  {rerunOf(r) && (
                    <button
                      type="button"
                      className="button button-small"
                      data-testid="history-rerun"
                      title="Load its settings into its panel and run it again"
                      onClick={() => void again(r)}
                    >
                      Run again
                    </button>
                  )}
                  <button
                    type="button"
                    className="button button-small"
                    data-testid="history-export"
                    onClick={() => exportRecord(r.id)}
                  >
                    Export JSON
                  </button>
                  <button
                    type="button"
                    className="button button-small"
                    data-testid="history-delete"
                    aria-label={`Delete the run of ${new Date(r.startedAt).toLocaleString()}`}
                    onClick={() => void remove(r.id)}
                  >
                    Delete
                  </button>
                </span>
              </td>
            </tr>
          ))}
        </ScrollTable>
      )}
      {rerunNotes.length > 0 && (
        <div className="notice notice-warn" role="status" data-testid="history-rerun-notes">
          {rerunNotes.map((note) => (
            <p key={note}>{note}</p>
          ))}
        </div>
      )}
      {shown && <RecordView record={shown} onClose={() => select(null)} />}
    </section>
  );
}

/** A button that picks a JSON file and hands it on. */
function JsonFileButton({
  label,
  testId,
  title,
  onFile,
}: {
  label: string;
  testId: string;
  title?: string;
  onFile: (file: File) => Promise<void>;
}) {
  return (
    <label className="button file-button" title={title}>
      {label}
      <input
        type="file"
        accept=".json,application/json"
        data-testid={testId}
        onChange={(event) => {
          const file = event.target.files?.[0];
          if (file) void onFile(file);
          // The same file may be picked again after a fix.
          event.target.value = '';
        }}
      />
    </label>
  );
}
