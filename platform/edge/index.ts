/**
 * Edge (workerd) entry point of `largetable`: memory:// locations only (./storage.ts); the worker
 * passes precompiled kernel modules to `loadPlatformKernels` (re-exported here) itself.
 */
import { LargetableClient as BaseClient, setPlatform, type ClientOptions, type Platform } from '../../src/client.ts';
import { openAdapter } from './storage.ts';

const platform: Platform = { openAdapter: (location) => openAdapter(location) };
setPlatform(platform);

export { loadPlatformKernels } from './kernels.ts';
export * from '../../src/index.ts';

export class LargetableClient extends BaseClient {
  constructor(location?: string, options: ClientOptions = {}) {
    super(location, { platform, ...options });
  }
}

export function open(location: string, options: ClientOptions = {}): Promise<LargetableClient> {
  return new LargetableClient(location, options).connect();
}
