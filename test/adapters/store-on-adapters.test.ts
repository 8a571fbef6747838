/**
 * The store cases (test/storage/store.case.ts, the storage engine end to end) on the adapters that
 * test/storage/store.test.ts does not cover: IndexedDB on fake-indexeddb (Node and Deno) and the
 * Deno filesystem adapter (Deno only). Real IndexedDB and OPFS run in test/browser/storage.
 */
import 'fake-indexeddb/auto';
import { after, describe, it } from 'node:test';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { storeCases } from '../storage/store.case.ts';
import { deleteIdbDatabase, openIdbAdapter } from '../../platform/browser/idb-adapter.ts';
import { openDenoFsAdapter } from '../../platform/deno/fs-adapter.ts';

const isDeno = typeof (globalThis as { Deno?: unknown }).Deno !== 'undefined';
/** The store cases may pass adapter.location (`idb://NAME`) back to `open`. */
const bare = (loc: string): string => loc.replace(/^[a-z]+:\/\//, '');
let counter = 0;

storeCases('indexeddb (fake-indexeddb)', {
  newLocation: () => `store-${++counter}`,
  open: (name) => openIdbAdapter(bare(name)),
  cleanup: (name) => deleteIdbDatabase(name),
}, { describe, it }, { modelRuns: 5 });

if (isDeno) {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'lt-store-deno-'));
  after(() => fs.rm(root, { recursive: true, force: true }));
  storeCases('deno fs', {
    newLocation: () => path.join(root, `s${++counter}`),
    open: (dir) => openDenoFsAdapter(dir),
    cleanup: (dir) => fs.rm(dir, { recursive: true, force: true }),
  }, { describe, it }, { modelRuns: 5 });
} else {
  describe('store on deno fs', () => {
    it.skip('runs only under Deno', () => {});
  });
}
