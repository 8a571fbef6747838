/** Storage location resolution on Node (rules in ../server-storage.ts). */
import type { StorageAdapter } from '../../src/storage/adapter.ts';
import type { OpenAdapterOptions } from '../memory.ts';
import { openServerAdapter } from '../server-storage.ts';
import { openNodeFsAdapter } from './fs-adapter.ts';

export function openAdapter(location: string, options: OpenAdapterOptions = {}): Promise<StorageAdapter> {
  return openServerAdapter(location, options, 'Node', openNodeFsAdapter);
}
