/** The IndexedDB adapter on fake-indexeddb (Node and Deno); real Chromium runs it in test/browser. */
import 'fake-indexeddb/auto';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { adapterCases } from '../conformance/storage-adapter.case.ts';
import { deleteIdbDatabase, idbChunkSizeBytes, openIdbAdapter } from '../../platform/browser/idb-adapter.ts';
import { isLargetableError } from '../../src/errors.ts';

let counter = 0;
adapterCases('indexeddb (fake-indexeddb)', {
  newLocation: () => `conformance-${++counter}`,
  open: (name) => openIdbAdapter(name),
  cleanup: (name) => deleteIdbDatabase(name),
}, { describe, it }, { modelRuns: 15 });

describe('IdbAdapter specifics', () => {
  it('unsynced writes stay in memory; sync commits them with the size in one transaction', async () => {
    const a = await openIdbAdapter('spec-1');
    const f = await a.open('wal', { create: true });
    await f.append(new Uint8Array(idbChunkSizeBytes + 10).fill(7));
    // Another adapter on the same database sees only the durable state (the empty file).
    const b = await openIdbAdapter('spec-1');
    assert.equal((await b.readAll('wal')).length, 0);
    await f.sync();
    const all = await b.readAll('wal');
    assert.equal(all.length, idbChunkSizeBytes + 10);
    assert.ok(all.every((x) => x === 7));
    // Truncate, extend and sync: the stale stored bytes past the truncation read as zeros.
    await f.truncate(5);
    await f.truncate(idbChunkSizeBytes + 3);
    await f.sync();
    const after = await b.readAll('wal');
    assert.deepEqual([...after.subarray(0, 6)], [7, 7, 7, 7, 7, 0]);
    assert.ok(after.subarray(5).every((x) => x === 0));
    await f.close();
    await a.close();
    await b.close();
    await deleteIdbDatabase('spec-1');
  });

  it('relaxed durability is accepted and still persists on close', async () => {
    const a = await openIdbAdapter('spec-2', { durability: 'relaxed' });
    assert.equal(a.durability, 'relaxed');
    const f = await a.open('x', { create: true });
    await f.write(3, Uint8Array.of(1));
    await a.close(); // close syncs
    const b = await openIdbAdapter('spec-2');
    assert.deepEqual(await b.readAll('x'), Uint8Array.of(0, 0, 0, 1));
    await b.close();
    await deleteIdbDatabase('spec-2');
  });

  it('a handle of a removed file throws NOT_FOUND', async () => {
    const a = await openIdbAdapter('spec-3');
    const f = await a.open('x', { create: true });
    await a.remove('x');
    await assert.rejects(f.read(0, 1), (e) => isLargetableError(e, 'NOT_FOUND'));
    await f.close();
    await a.close();
    await deleteIdbDatabase('spec-3');
  });

  it('a failing IndexedDB call is IO_ERROR naming the file and operation', async () => {
    const a = await openIdbAdapter('spec-5');
    const f = await a.open('x', { create: true });
    await f.write(0, Uint8Array.of(1));
    await deleteIdbDatabase('spec-5'); // the adapter's connection closes on 'versionchange'
    await assert.rejects(f.sync(), (e) => isLargetableError(e, 'IO_ERROR') && e.details['file'] === 'x' && e.details['operation'] === 'sync');
    await assert.rejects(a.list(), (e) => isLargetableError(e, 'IO_ERROR') && e.details['operation'] === 'list');
    await assert.rejects(a.close(), (e) => isLargetableError(e, 'IO_ERROR'), 'close reports the failed final sync');
    await assert.rejects(a.list(), (e) => isLargetableError(e, 'CLOSED'));
  });

  it('a database of another layout version is UNSUPPORTED_FORMAT', async () => {
    const { createStore, set } = await import('idb-keyval');
    await set(['format'], { version: 99, chunkSizeBytes: 1 }, createStore('largetable:spec-4', 'files'));
    await assert.rejects(openIdbAdapter('spec-4'), (e) => isLargetableError(e, 'UNSUPPORTED_FORMAT'));
  });
});
