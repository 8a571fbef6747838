/**
 * Storage location resolution shared by the server runtimes (Node, Deno): a path (`./data`, `/x`,
 * `file:///x`) opens the runtime's filesystem adapter, `memory://NAME` the memory adapter, and
 * `idb://NAME` the IndexedDB adapter only when an `indexedDB` global exists (e.g. fake-indexeddb
 * was installed). `opfs://` and anything else are UNSUPPORTED_STORAGE: never a silent fallback.
 */
import type { StorageAdapter } from '../src/storage/adapter.ts';
import { openMemoryAdapter, parseStorageLocation, unsupportedStorage } from './memory.ts';
import type { OpenAdapterOptions } from './memory.ts';

export async function openServerAdapter(
  location: string,
  options: OpenAdapterOptions,
  runtime: string,
  openFs: (path: string) => Promise<StorageAdapter>,
): Promise<StorageAdapter> {
  const loc = parseStorageLocation(location);
  switch (loc.kind) {
    case 'path':
      return openFs(loc.path);
    case 'memory':
      return openMemoryAdapter(loc.name);
    case 'idb': {
      if (typeof (globalThis as { indexedDB?: unknown }).indexedDB === 'undefined') break;
      const { openIdbAdapter } = await import('./browser/idb-adapter.ts');
      return openIdbAdapter(loc.name, options);
    }
    case 'opfs':
      break;
  }
  throw unsupportedStorage(location, runtime, 'paths, file://, memory://');
}
