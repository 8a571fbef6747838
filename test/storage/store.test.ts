import { after, describe, it } from 'node:test';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { dropMemoryVolume, openMemoryAdapter } from '../../platform/memory.ts';
import { openNodeFsAdapter } from '../../platform/node/fs-adapter.ts';
import { storeCases } from './store.case.ts';

let counter = 0;
storeCases('memory', {
  newLocation: () => `store-${++counter}`,
  open: async (name) => openMemoryAdapter(name),
  cleanup: async (name) => dropMemoryVolume(name),
}, { describe, it });

const root = await fs.mkdtemp(path.join(os.tmpdir(), 'lt-store-'));
after(() => fs.rm(root, { recursive: true, force: true }));
storeCases('node fs', {
  newLocation: () => path.join(root, `s${++counter}`),
  open: (dir) => openNodeFsAdapter(dir),
  cleanup: (dir) => fs.rm(dir, { recursive: true, force: true }),
}, { describe, it }, { modelRuns: 10 });

// Under Deno, the same cases on the Deno fs adapter.
if (typeof (globalThis as { Deno?: unknown }).Deno !== 'undefined') {
  const { openDenoFsAdapter } = await import('../../platform/deno/fs-adapter.ts');
  storeCases('deno fs', {
    newLocation: () => path.join(root, `d${++counter}`),
    open: (dir) => openDenoFsAdapter(dir),
    cleanup: (dir) => fs.rm(dir, { recursive: true, force: true }),
  }, { describe, it }, { modelRuns: 10 });
}
