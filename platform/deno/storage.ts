/** Storage location resolution on Deno (rules in ../server-storage.ts), with the Deno fs adapter. */
import type { StorageAdapter } from '../../src/storage/adapter.ts';
import type { OpenAdapterOptions } from '../memory.ts';
import { openServerAdapter } from '../server-storage.ts';
import { openDenoFsAdapter } from './fs-adapter.ts';

export function openAdapter(location: string, options: OpenAdapterOptions = {}): Promise<StorageAdapter> {
  return openServerAdapter(location, options, 'Deno', openDenoFsAdapter);
}
