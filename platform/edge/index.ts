/**
 * Edge (workerd) entry point of `largetable`: memory:// locations only (no persistent adapter on
 * the edge); kernels come from precompiled modules passed to `loadPlatformKernels` by the worker.
 */
import { setPlatform } from '../../src/client.ts';
import { LargetableError } from '../../src/errors.ts';
import type { StorageAdapter } from '../../src/storage/adapter.ts';
import { openMemoryAdapter } from '../memory.ts';

async function openAdapter(location: string): Promise<StorageAdapter> {
  if (location.startsWith('memory://')) {
    const name = location.slice('memory://'.length);
    return openMemoryAdapter(name.length > 0 ? name : undefined);
  }
  throw new LargetableError('UNSUPPORTED_STORAGE', `storage location ${location} is not supported on the edge (use memory://)`);
}

setPlatform({ openAdapter });

export { loadPlatformKernels } from './kernels.ts';
export * from '../../src/index.ts';
