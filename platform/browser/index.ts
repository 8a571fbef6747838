/**
 * Browser entry point of `largetable`: memory://, idb://NAME and opfs://NAME (OPFS needs a
 * dedicated Worker) locations; wasm kernels fetched from /build/.
 */
import { setPlatform } from '../../src/client.ts';
import { LargetableError } from '../../src/errors.ts';
import type { StorageAdapter } from '../../src/storage/adapter.ts';
import { openMemoryAdapter } from '../memory.ts';
import { loadPlatformKernels } from './kernels.ts';


async function openAdapter(location: string): Promise<StorageAdapter> {
  if (location.startsWith('memory://')) {
    const name = location.slice('memory://'.length);
    return openMemoryAdapter(name.length > 0 ? name : undefined);
  }
  if (location.startsWith('idb://')) {
    const { openIdbAdapter } = await import('./idb-adapter.ts');
    return openIdbAdapter(location.slice('idb://'.length));
  }
  if (location.startsWith('opfs://')) {
    const spec = './storage.ts';
    const mod = (await import(/* @vite-ignore */ spec)) as { openAdapter: (l: string) => Promise<StorageAdapter> };
    return mod.openAdapter(location);
  }
  throw new LargetableError('UNSUPPORTED_STORAGE', `storage location ${location} is not supported in the browser (use memory://, idb://NAME or opfs://NAME)`);
}

setPlatform({ openAdapter, loadKernels: () => loadPlatformKernels() });

export * from '../../src/index.ts';
