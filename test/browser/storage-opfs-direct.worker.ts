/**
 * Worker side of test/browser/storage.browser.ts: runs the StorageAdapter conformance cases on
 * the OPFS adapter in 'direct' mode (SyncAccessHandles in this Worker, no message hop) and posts
 * back [{ name, ok, error }] for every case.
 */
import { adapterCases } from '../conformance/storage-adapter.case.ts';
import { openOpfsAdapter } from '../../platform/browser/opfs-adapter.ts';

interface Case { name: string; fn: () => Promise<void> }

const cases: Case[] = [];
let prefix = '';
adapterCases('opfs (direct, in a Worker)', {
  newLocation: () => `direct-${Math.random().toString(36).slice(2)}`,
  open: (name) => openOpfsAdapter(name, { mode: 'direct' }),
  cleanup: async (name) => {
    const root = await navigator.storage.getDirectory();
    const base = await root.getDirectoryHandle('largetable', { create: true });
    await base.removeEntry(name, { recursive: true }).catch(() => {});
  },
}, {
  describe: (name, fn) => {
    prefix = name;
    fn();
  },
  it: (name, fn) => {
    cases.push({ name: `${prefix} › ${name}`, fn });
  },
}, { modelRuns: 10 });

const scope = globalThis as unknown as { onmessage: (() => void) | null; postMessage(m: unknown): void };
scope.onmessage = async () => {
  const results: { name: string; ok: boolean; error?: string }[] = [];
  for (const c of cases) {
    try {
      await c.fn();
      results.push({ name: c.name, ok: true });
    } catch (err) {
      results.push({ name: c.name, ok: false, error: err instanceof Error ? `${err.message}\n${err.stack ?? ''}` : String(err) });
    }
  }
  scope.postMessage(results);
};
