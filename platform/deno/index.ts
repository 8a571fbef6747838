/**
 * Deno entry point of `largetable`: registers the Deno platform (storage locations from
 * ./storage.ts: paths, file://, memory://; wasm kernels from build/) and re-exports the public API.
 */
import { LargetableClient as BaseClient, setPlatform, type ClientOptions, type Platform } from '../../src/client.ts';
import { loadPlatformKernels } from './kernels.ts';
import { openAdapter } from './storage.ts';

const platform: Platform = { openAdapter: (location) => openAdapter(location), loadKernels: () => loadPlatformKernels() };
setPlatform(platform);

export * from '../../src/index.ts';

/** `new LargetableClient(location, options).connect()`, bound to this runtime's storage and kernels. */
export class LargetableClient extends BaseClient {
  constructor(location?: string, options: ClientOptions = {}) {
    super(location, { platform, ...options });
  }
}

/** Opens a client on `location`; see src/index.ts. */
export function open(location: string, options: ClientOptions = {}): Promise<LargetableClient> {
  return new LargetableClient(location, options).connect();
}
