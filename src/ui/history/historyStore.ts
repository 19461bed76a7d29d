// The run history: every run record this browser kept (IndexedDB, see recordDb.ts), imported ones
// among them, and the one on show. A record that cannot be stored (a private window, a full quota)
// still shows for this visit, with the reason; a bad import file is refused and nothing else moves.

import { create } from 'zustand';
import { parseRunRecord, type RunRecord } from '../../run/record';
import { safeName } from '../pruning/pruneExport';
import { downloadBytes } from '../shell/download';
import { type StorageEstimate, storageEstimate } from '../shell/storageEstimate';
import { allRecords, clearRecords, deleteRecord, putRecord } from './recordDb';

interface HistoryState {
  status: 'idle' | 'loading' | 'ready';
  /** Newest first. */
  records: RunRecord[];
  /** The last storage problem, said so a person can act on it; null when all is well. */
  error: string | null;
  /** Stored entries that are no longer valid records (a newer or damaged format). */
  damaged: string[];
  estimate: StorageEstimate | null;
  /** The record on show under the history, if any. */
  selected: string | null;
  importError: string | null;

  load(): Promise<void>;
  save(record: RunRecord): Promise<void>;
  remove(id: string): Promise<void>;
  clear(): Promise<void>;
  importFile(file: File): Promise<void>;
  exportRecord(id: string): void;
  select(id: string | null): void;
}

const message = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** 'prune-stories260K-2026-11-28T10-15-00.json'. */
export function recordFileName(record: RunRecord): string {
  const model = record.model.name.replace(/\s*\(built-in\)$/, '');
  return `${safeName(`${record.kind}-${model}-${record.startedAt.slice(0, 19)}`)}.json`;
}

export const useHistory = create<HistoryState>()((set, get) => {
  const refreshEstimate = async () => set({ estimate: await storageEstimate() });
  const withRecord = (records: RunRecord[], record: RunRecord) =>
    [record, ...records.filter((r) => r.id !== record.id)].sort((a, b) =>
      b.startedAt.localeCompare(a.startedAt),
    );

  return {
    status: 'idle',
    records: [],
    error: null,
    damaged: [],
    estimate: null,
    selected: null,
    importError: null,

    async load() {
      if (get().status !== 'idle') return;
      set({ status: 'loading' });
      try {
        const stored = await allRecords();
        // Records saved while the history was loading are kept in front of the stored ones.
        set((s) => ({
          records: s.records.reduce(withRecord, stored.records),
          damaged: stored.damaged,
        }));
      } catch (error) {
        set({ error: message(error) });
      }
      set({ status: 'ready' });
      await refreshEstimate();
    },

    async save(record) {
      set((s) => ({ records: withRecord(s.records, record) }));
      try {
        await putRecord(record);
        set({ error: null });
      } catch (error) {
        set({ error: `${message(error)} This run is shown for this visit only.` });
      }
      await refreshEstimate();
    },

    async remove(id) {
      set((s) => ({
        records: s.records.filter((r) => r.id !== id),
        selected: s.selected === id ? null : s.selected,
      }));
      try {
        await deleteRecord(id);
      } catch (error) {
        set({ error: message(error) });
      }
      await refreshEstimate();
    },

    async clear() {
      set({ records: [], damaged: [], selected: null });
      try {
        await clearRecords();
      } catch (error) {
        set({ error: message(error) });
      }
      await refreshEstimate();
    },

    async importFile(file) {
      set({ importError: null });
      let record: RunRecord;
      try {
        let value: unknown;
        try {
          value = JSON.parse(await file.text());
        } catch (error) {
          throw new Error(`the file is not JSON (${message(error)})`);
        }
        record = parseRunRecord(value);
      } catch (error) {
        set({ importError: `${file.name}: ${message(error)}` });
        return;
      }
      await get().save(record);
      set({ selected: record.id });
    },

    exportRecord(id) {
      const record = get().records.find((r) => r.id === id);
      if (!record) return;
      downloadBytes(recordFileName(record), `${JSON.stringify(record, null, 2)}\n`, 'application/json');
    },

    select(id) {
      set({ selected: id });
    },
  };
});

/**
 * The one way a finished job enters the history: runRecording.ts calls it for every pruning,
 * evaluation and training run; a new kind of job records itself the same way.
 */
export function saveRunRecord(record: RunRecord): Promise<void> {
  return useHistory.getState().save(record);
}
