/** Shared helpers for the document tests: fresh clients on unique memory volumes. */
import { open, type LargetableClient } from '../../platform/node/index.ts';

let n = 0;
export async function freshClient(options: Record<string, unknown> = {}): Promise<LargetableClient> {
  return open(`memory://doc-test-${Date.now()}-${n++}-${Math.random().toString(36).slice(2)}`, { kernels: 'typescript', ttlMonitor: false, ...options });
}
