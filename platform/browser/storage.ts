/**
 * Storage location resolution in browsers (pages and workers): `memory://NAME`, `idb://NAME`
 * (IndexedDB) and `opfs://NAME` (Origin Private File System through a Worker, or directly inside
 * one). Paths and `file://` are UNSUPPORTED_STORAGE, as is a backend the browser lacks: never a
 * silent fallback to memory.
 */
import type { StorageAdapter } from '../../src/storage/adapter.ts';
import { openMemoryAdapter, parseStorageLocation, unsupportedStorage } from '../memory.ts';
import type { OpenAdapterOptions } from '../memory.ts';
import { openIdbAdapter } from './idb-adapter.ts';
import { openOpfsAdapter } from './opfs-adapter.ts';
import type { OpfsAdapterOptions } from './opfs-adapter.ts';

export type BrowserOpenAdapterOptions = OpenAdapterOptions & OpfsAdapterOptions;

export async function openAdapter(location: string, options: BrowserOpenAdapterOptions = {}): Promise<StorageAdapter> {
  const loc = parseStorageLocation(location);
  switch (loc.kind) {
    case 'memory':
      return openMemoryAdapter(loc.name);
    case 'idb':
      return openIdbAdapter(loc.name, options);
    case 'opfs':
      return openOpfsAdapter(loc.name, options);
    case 'path':
      break;
  }
  throw unsupportedStorage(location, 'the browser', 'memory://, idb://, opfs://');
}
