/** Storage engine entry point: `openStore(adapter, options)` returns a `Store` (store.ts). */
import type { StorageAdapter } from './adapter.ts';
import { type EngineOptions, LsmStore } from './engine.ts';
import type { Store } from './store.ts';

export type { EngineOptions, StoreEvent } from './engine.ts';
export { decodeWalRecord } from './wal.ts';
export type * from './store.ts';
export type { Durability, FileHandle, StorageAdapter } from './adapter.ts';

/**
 * Opens (creating if empty) the store held by `adapter`: takes the adapter's single-writer lock,
 * reads the manifest, replays the WAL (truncating a torn tail, reported in `store.recovery`).
 * `store.close()` also closes the adapter.
 */
export async function openStore(adapter: StorageAdapter, options: EngineOptions = {}): Promise<Store & LsmStore> {
  const s = new LsmStore(adapter, options);
  await s.open();
  return s;
}
