/**
 * Storage adapters in real Chromium: the StorageAdapter conformance cases on memory, IndexedDB
 * and OPFS (through its Worker from the page, and directly inside a Worker), the store cases on
 * IndexedDB and OPFS, persistence across a page reload (phase 1 writes, phase 2 reads), and
 * measured write+sync latency (printed as notes, not asserted).
 */
import { assert, note, test } from './harness.ts';
import { adapterCases } from '../conformance/storage-adapter.case.ts';
import type { AdapterFactory, TestApi } from '../conformance/storage-adapter.case.ts';
import { storeCases } from '../storage/store.case.ts';
import { dropMemoryVolume, openMemoryAdapter } from '../../platform/memory.ts';
import { deleteIdbDatabase, openIdbAdapter } from '../../platform/browser/idb-adapter.ts';
import { openOpfsAdapter } from '../../platform/browser/opfs-adapter.ts';
import { openAdapter } from '../../platform/browser/storage.ts';
import { isLargetableError } from '../../src/errors.ts';
import type { StorageAdapter } from '../../src/storage/adapter.ts';

function harnessApi(): TestApi {
  let prefix = '';
  return {
    describe: (name, fn) => {
      prefix = name;
      fn();
    },
    it: (name, fn) => test(`${prefix} › ${name}`, fn),
  };
}

const uid = () => Math.random().toString(36).slice(2, 10);

async function removeOpfsDir(name: string): Promise<void> {
  const root = await navigator.storage.getDirectory();
  const base = await root.getDirectoryHandle('largetable', { create: true });
  await base.removeEntry(name, { recursive: true }).catch(() => {});
}

/** Location names; a full `scheme://NAME` (the store cases pass adapter.location) is accepted too. */
const bare = (loc: string): string => loc.replace(/^[a-z]+:\/\//, '');

const memory: AdapterFactory = {
  newLocation: () => `b-${uid()}`,
  open: async (name) => openMemoryAdapter(bare(name)),
  cleanup: async (name) => dropMemoryVolume(name),
};
const idb: AdapterFactory = {
  newLocation: () => `b-${uid()}`,
  open: (name) => openIdbAdapter(bare(name)),
  cleanup: (name) => deleteIdbDatabase(name),
};
const opfs: AdapterFactory = {
  newLocation: () => `b-${uid()}`,
  open: (name) => openOpfsAdapter(bare(name)),
  cleanup: removeOpfsDir,
};

adapterCases('memory (Chromium)', memory, harnessApi(), { modelRuns: 10 });
adapterCases('indexeddb (Chromium)', idb, harnessApi(), { modelRuns: 10 });
adapterCases('opfs via Worker (Chromium)', opfs, harnessApi(), { modelRuns: 10 });

test('opfs direct inside a Worker: every conformance case passes', async () => {
  const worker = new Worker(new URL('./storage-opfs-direct.worker.js', import.meta.url), { type: 'module' });
  try {
    const results = await new Promise<{ name: string; ok: boolean; error?: string }[]>((resolve, reject) => {
      worker.onmessage = (ev) => resolve(ev.data);
      worker.onerror = (ev) => reject(new Error(`worker failed: ${ev.message}`));
      worker.postMessage('run');
    });
    assert.equal(results.length >= 10, true, `expected the cases to run, got ${results.length}`);
    const failed = results.filter((r) => !r.ok);
    assert.deepEqual(failed.map((r) => `${r.name}: ${r.error}`), []);
  } finally {
    worker.terminate();
  }
});

test('openAdapter() in the browser: memory://, idb://, opfs://; paths are UNSUPPORTED_STORAGE', async () => {
  const kinds: [string, string][] = [['memory://r1', 'MemoryAdapter'], [`idb://r-${uid()}`, 'IdbAdapter'], [`opfs://r-${uid()}`, 'OpfsAdapter']];
  for (const [loc, cls] of kinds) {
    const a = await openAdapter(loc);
    assert.equal(a.constructor.name, cls, loc);
    assert.equal(a.location, loc);
    await a.close();
  }
  await assert.rejects(() => openAdapter('./data'), (e) => isLargetableError(e, 'UNSUPPORTED_STORAGE'));
  await assert.rejects(() => openAdapter('file:///data'), (e) => isLargetableError(e, 'UNSUPPORTED_STORAGE'));
});

test('lock(): a second IndexedDB / OPFS adapter in the same origin gets LOCKED (Web Locks)', async () => {
  for (const loc of [`idb://l-${uid()}`, `opfs://l-${uid()}`]) {
    const a = await openAdapter(loc);
    await a.lock();
    const b = await openAdapter(loc);
    await assert.rejects(() => b.lock(), (e) => isLargetableError(e, 'LOCKED'), loc);
    await a.close();
    await b.lock();
    await b.close();
  }
});

test('failures are IO_ERROR naming the file and operation (OPFS: a directory; IndexedDB: a deleted database)', async () => {
  const name = `e-${uid()}`;
  const o = await openOpfsAdapter(name);
  const root = await navigator.storage.getDirectory();
  const dir = await (await root.getDirectoryHandle('largetable')).getDirectoryHandle(name);
  await dir.getDirectoryHandle('sub', { create: true });
  await assert.rejects(() => o.open('sub'), (e) => isLargetableError(e, 'IO_ERROR') && e.details['file'] === 'sub' && e.details['operation'] === 'open');
  assert.deepEqual(await o.list(), [], 'directories are not listed');
  await o.close();
  await removeOpfsDir(name);
  const i = await openIdbAdapter(name);
  const f = await i.open('x', { create: true });
  await f.write(0, Uint8Array.of(1));
  await deleteIdbDatabase(name);
  await assert.rejects(() => f.sync(), (e) => isLargetableError(e, 'IO_ERROR') && e.details['file'] === 'x' && e.details['operation'] === 'sync');
  await i.close().catch(() => {});
});

// Store cases (the storage engine) on the real browser backends.
storeCases('store on indexeddb (Chromium)', idb, harnessApi(), { modelRuns: 5 });
storeCases('store on opfs (Chromium)', opfs, harnessApi(), { modelRuns: 5 });

// ---------------------------------------------------------------------------------------------
// Persistence across a page reload (same profile).
// ---------------------------------------------------------------------------------------------

const persistLocations = ['idb://persist', 'opfs://persist'];
const tail = Uint8Array.from({ length: 100_000 }, (_, i) => (i * 7) & 0xff);

test('phase 1: write, sync and replace on IndexedDB and OPFS, then leave the page', async () => {
  for (const loc of persistLocations) {
    const a = await openAdapter(loc);
    await a.lock();
    const f = await a.open('wal.000001', { create: true });
    await f.append(Uint8Array.of(1, 2, 3));
    await f.append(tail);
    await f.sync();
    await f.close();
    await a.replace('MANIFEST', Uint8Array.of(42));
    // Keep the lock and a synced open handle: the reload must free both.
    const g = await a.open('open-at-reload', { create: true });
    await g.append(Uint8Array.of(9, 9));
    await g.sync();
  }
}, { phase: 1 });

test('phase 2: after the reload the synced bytes are there and the lock is free', async () => {
  for (const loc of persistLocations) {
    const a: StorageAdapter = await openAdapter(loc);
    await a.lock();
    assert.deepEqual(await a.list(), ['MANIFEST', 'open-at-reload', 'wal.000001'], loc);
    assert.deepEqual(await a.readAll('MANIFEST'), Uint8Array.of(42), loc);
    const f = await a.open('wal.000001');
    assert.equal(await f.size(), 100_003, loc);
    assert.deepEqual(await f.read(0, 3), Uint8Array.of(1, 2, 3), loc);
    assert.deepEqual(await f.read(3, 100_000), tail, loc);
    await f.close();
    assert.deepEqual(await a.readAll('open-at-reload'), Uint8Array.of(9, 9), loc);
    for (const n of await a.list()) await a.remove(n);
    await a.close();
  }
}, { phase: 2 });

// ---------------------------------------------------------------------------------------------
// Measured (not asserted): write + sync latency.
// ---------------------------------------------------------------------------------------------

test('measure: append 100 B + sync latency on IndexedDB (strict, relaxed) and OPFS', async () => {
  const rounds = 100;
  const rec = new Uint8Array(100).fill(1);
  const targets: [string, () => Promise<StorageAdapter>][] = [
    ['indexeddb strict', () => openIdbAdapter(`m-${uid()}`, { durability: 'strict' })],
    ['indexeddb relaxed', () => openIdbAdapter(`m-${uid()}`, { durability: 'relaxed' })],
    ['opfs (worker)', () => openOpfsAdapter(`m-${uid()}`)],
    ['memory', async () => openMemoryAdapter()],
  ];
  for (const [label, make] of targets) {
    const a = await make();
    const f = await a.open('wal', { create: true });
    await f.append(rec);
    await f.sync(); // warm-up
    const t0 = performance.now();
    for (let i = 0; i < rounds; i++) {
      await f.append(rec);
      await f.sync();
    }
    const per = (performance.now() - t0) / rounds;
    const big = new Uint8Array(1 << 20).fill(2);
    const t1 = performance.now();
    await f.append(big);
    await f.sync();
    const mib = performance.now() - t1;
    note(`storage latency ${label}: append(100 B)+sync ${per.toFixed(2)} ms/op (${(1000 / per).toFixed(0)} syncs/s); append(1 MiB)+sync ${mib.toFixed(1)} ms`);
    assert.equal(await f.size(), 100 * (rounds + 1) + (1 << 20));
    await f.close();
    await a.close();
  }
});
