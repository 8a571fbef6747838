/**
 * Storage location resolution on Deno: a path (`./data`, `/x`, `file:///x`) opens the Deno
 * filesystem adapter, `memory://NAME` the memory adapter, and `idb://NAME` the IndexedDB adapter
 * only when an `indexedDB` global exists (e.g. fake-indexeddb). `opfs://` and anything else are
 * UNSUPPORTED_STORAGE: never a silent fallback to memory.
 */
import type { StorageAdapter } from '../../src/storage/adapter.ts';
import { openMemoryAdapter, parseStorageLocation, unsupportedStorage } from '../memory.ts';
import type { OpenAdapterOptions } from '../memory.ts';
import { openDenoFsAdapter } from './fs-adapter.ts';

export async function openAdapter(location: string, options: OpenAdapterOptions = {}): Promise<StorageAdapter> {
  const loc = parseStorageLocation(location);
  switch (loc.kind) {
    case 'path':
      return openDenoFsAdapter(loc.path);
    case 'memory':
      return openMemoryAdapter(loc.name);
    case 'idb': {
      if (typeof (globalThis as { indexedDB?: unknown }).indexedDB === 'undefined') break;
      const { openIdbAdapter } = await import('../browser/idb-adapter.ts');
      return openIdbAdapter(loc.name, options);
    }
    case 'opfs':
      break;
  }
  throw unsupportedStorage(location, 'Deno', 'paths, file://, memory://');
}
