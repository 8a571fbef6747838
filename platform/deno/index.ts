/**
 * Deno entry point of `largetable`: registers the Deno platform (Deno fs / memory adapters, wasm
 * kernels) and re-exports the public API.
 */
import { setPlatform } from '../../src/client.ts';
import { LargetableError } from '../../src/errors.ts';
import type { StorageAdapter } from '../../src/storage/adapter.ts';
import { loadPlatformKernels } from './kernels.ts';

async function openAdapter(location: string): Promise<StorageAdapter> {
  try {
    const spec = './storage.ts';
    const mod = (await import(spec)) as { openAdapter?: (l: string) => Promise<StorageAdapter> };
    if (typeof mod.openAdapter === 'function') return mod.openAdapter(location);
  } catch (err) {
    if (!(err instanceof Error) || !/Cannot find module|Module not found|ERR_MODULE_NOT_FOUND/i.test(err.message)) throw err;
  }
  if (location.startsWith('memory://')) {
    const { openMemoryAdapter } = await import('../memory.ts');
    const name = location.slice('memory://'.length);
    return openMemoryAdapter(name.length > 0 ? name : undefined);
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(location) && !location.startsWith('file://')) {
    throw new LargetableError('UNSUPPORTED_STORAGE', `storage location ${location} is not supported on Deno`);
  }
  const { openDenoFsAdapter } = await import('./fs-adapter.ts');
  return openDenoFsAdapter(location.startsWith('file://') ? decodeURIComponent(new URL(location).pathname) : location);
}

setPlatform({ openAdapter, loadKernels: () => loadPlatformKernels() });

export * from '../../src/index.ts';
