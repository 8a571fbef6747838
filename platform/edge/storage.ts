/**
 * Storage location resolution on edge runtimes (Cloudflare workerd and similar): only
 * `memory://NAME` exists there (no filesystem, no IndexedDB, no OPFS). Everything else is
 * UNSUPPORTED_STORAGE: never a silent fallback to memory.
 */
import type { StorageAdapter } from '../../src/storage/adapter.ts';
import { openMemoryAdapter, parseStorageLocation, unsupportedStorage } from '../memory.ts';
import type { OpenAdapterOptions } from '../memory.ts';

export async function openAdapter(location: string, _options: OpenAdapterOptions = {}): Promise<StorageAdapter> {
  const loc = parseStorageLocation(location);
  if (loc.kind === 'memory') return openMemoryAdapter(loc.name);
  throw unsupportedStorage(location, 'this edge runtime', 'memory://');
}
