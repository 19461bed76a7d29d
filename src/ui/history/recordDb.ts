// Run history that outlives the page: run records in one IndexedDB object store, keyed by id,
// through `idb` (IndexedDB's requests as promises), here and nowhere else. Every record read
// back goes through parseRunRecord again, so one damaged entry is reported and skipped instead of
// breaking the whole history.

import { type DBSchema, type IDBPDatabase, type IDBPObjectStore, openDB } from 'idb';
import { parseRunRecord, type RunRecord } from '../../run/record';

const DB_NAME = 'compression-studio';
const DB_VERSION = 1;
const STORE = 'run-records' as const;

export class RecordDbError extends Error {
  override name = 'RecordDbError';
}

interface HistorySchema extends DBSchema {
  'run-records': { key: string; value: unknown };
}

type HistoryDb = IDBPDatabase<HistorySchema>;

let opening: Promise<HistoryDb> | null = null;

function database(): Promise<HistoryDb> {
  opening ??= new Promise<HistoryDb>((resolve, reject) => {
    if (typeof indexedDB === 'undefined') {
      reject(new RecordDbError('This browser offers no IndexedDB, so runs cannot be kept across visits.'));
      return;
    }
    openDB<HistorySchema>(DB_NAME, DB_VERSION, {
      upgrade(db) {
        if (!db.objectStoreNames.contains(STORE)) db.createObjectStore(STORE, { keyPath: 'id' });
      },
      // Another tab holds an older version open; it closes on its own once that tab reloads.
      blocked: () =>
        reject(
          new RecordDbError('The run history is held by another tab of the studio; close it and reload.'),
        ),
    }).then(resolve, (error: unknown) =>
      reject(new RecordDbError(`The run history could not be opened: ${messageOf(error)}`)),
    );
  });
  // A failed open is tried again on the next call (the person may free space or close a tab).
  opening.catch(() => {
    opening = null;
  });
  return opening;
}

const messageOf = (error: unknown) => (error instanceof Error ? error.message : 'unknown');

/** Runs one transaction on the store and resolves with the body's result once it commits. */
async function transact<T, Mode extends 'readonly' | 'readwrite'>(
  mode: Mode,
  body: (store: IDBPObjectStore<HistorySchema, [typeof STORE], typeof STORE, Mode>) => Promise<T>,
): Promise<T> {
  const db = await database();
  try {
    const tx = db.transaction(STORE, mode);
    const [result] = await Promise.all([body(tx.store), tx.done]);
    return result;
  } catch (error) {
    const quota = error instanceof Error && error.name === 'QuotaExceededError';
    throw new RecordDbError(
      quota
        ? 'The browser refused to store more: its storage quota for this site is full. Delete old runs.'
        : `The run history could not be ${mode === 'readonly' ? 'read' : 'written'}: ${messageOf(error)}`,
    );
  }
}

export async function putRecord(record: RunRecord): Promise<void> {
  await transact('readwrite', (store) => store.put(record));
}

export interface StoredRecords {
  /** Newest first. */
  records: RunRecord[];
  /** Entries that are no longer valid records, with why. */
  damaged: string[];
}

export async function allRecords(): Promise<StoredRecords> {
  const values = await transact('readonly', (store) => store.getAll());
  const records: RunRecord[] = [];
  const damaged: string[] = [];
  for (const value of values) {
    try {
      records.push(parseRunRecord(value));
    } catch (error) {
      damaged.push(error instanceof Error ? error.message : String(error));
    }
  }
  records.sort((a, b) => b.startedAt.localeCompare(a.startedAt));
  return { records, damaged };
}

export async function deleteRecord(id: string): Promise<void> {
  await transact('readwrite', (store) => store.delete(id));
}

export async function clearRecords(): Promise<void> {
  await transact('readwrite', (store) => store.clear());
}
