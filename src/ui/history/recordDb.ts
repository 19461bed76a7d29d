// Run history that outlives the page: run records in one IndexedDB object store, keyed by id.
// IndexedDB's request/event API is wrapped in promises here and nowhere else. Every record read
// back goes through parseRunRecord again, so one damaged entry is reported and skipped instead of
// breaking the whole history.

import { parseRunRecord, type RunRecord } from '../../run/record';

const DB_NAME = 'compression-studio';
const DB_VERSION = 1;
const STORE = 'run-records';

export class RecordDbError extends Error {
  override name = 'RecordDbError';
}

let opening: Promise<IDBDatabase> | null = null;

function database(): Promise<IDBDatabase> {
  opening ??= new Promise<IDBDatabase>((resolve, reject) => {
    if (typeof indexedDB === 'undefined') {
      reject(new RecordDbError('This browser offers no IndexedDB, so runs cannot be kept across visits.'));
      return;
    }
    const request = indexedDB.open(DB_NAME, DB_VERSION);
    request.onupgradeneeded = () => {
      if (!request.result.objectStoreNames.contains(STORE))
        request.result.createObjectStore(STORE, { keyPath: 'id' });
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () =>
      reject(
        new RecordDbError(`The run history could not be opened: ${request.error?.message ?? 'unknown'}`),
      );
    // Another tab holds an older version open; it closes on its own once that tab reloads.
    request.onblocked = () =>
      reject(new RecordDbError('The run history is held by another tab of the studio; close it and reload.'));
  });
  // A failed open is tried again on the next call (the person may free space or close a tab).
  opening.catch(() => {
    opening = null;
  });
  return opening;
}

/** Runs one transaction and resolves with the request's result once the transaction commits. */
async function transact<T>(
  mode: IDBTransactionMode,
  body: (store: IDBObjectStore) => IDBRequest<T>,
): Promise<T> {
  const db = await database();
  return new Promise<T>((resolve, reject) => {
    const tx = db.transaction(STORE, mode);
    const request = body(tx.objectStore(STORE));
    const fail = () => {
      const error = tx.error ?? request.error;
      const quota = error?.name === 'QuotaExceededError';
      reject(
        new RecordDbError(
          quota
            ? 'The browser refused to store more: its storage quota for this site is full. Delete old runs.'
            : `The run history could not be ${mode === 'readonly' ? 'read' : 'written'}: ${error?.message ?? 'unknown'}`,
        ),
      );
    };
    tx.oncomplete = () => resolve(request.result);
    tx.onerror = fail;
    tx.onabort = fail;
  });
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
