import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { adapterCases } from '../conformance/storage-adapter.case.ts';
import { crashMemoryVolumeForTesting, crashPageBytes, dropMemoryVolume, MemoryAdapter, openMemoryAdapter } from '../../platform/memory.ts';
import { isLargetableError } from '../../src/errors.ts';

let counter = 0;
adapterCases('memory', {
  newLocation: () => `conformance-${++counter}`,
  open: async (name) => openMemoryAdapter(name),
  cleanup: async (name) => dropMemoryVolume(name),
}, { describe, it });

describe('MemoryAdapter crash simulation', () => {
  it('crashMemoryVolumeForTesting() drops unsynced bytes and keeps synced ones', async () => {
    const a = new MemoryAdapter('crash-1', { trackUnsynced: true });
    await a.lock();
    const f = await a.open('wal', { create: true });
    await f.append(Uint8Array.of(1, 2, 3));
    await f.sync();
    await f.append(Uint8Array.of(4, 5));
    await f.write(0, Uint8Array.of(9)); // unsynced overwrite of synced bytes is dropped too
    const g = await a.open('never-synced', { create: true });
    await g.append(Uint8Array.of(7));
    crashMemoryVolumeForTesting('crash-1');
    await assert.rejects(f.read(0, 1), (e) => isLargetableError(e, 'CLOSED'));
    await assert.rejects(a.list(), (e) => isLargetableError(e, 'CLOSED'));
    const b = new MemoryAdapter('crash-1');
    await b.lock(); // the crash freed the lock
    assert.deepEqual(await b.readAll('wal'), Uint8Array.of(1, 2, 3));
    assert.deepEqual(await b.readAll('never-synced'), new Uint8Array(0));
    await b.close();
    await a.close();
    dropMemoryVolume('crash-1');
  });

  it('tornTailBytes keeps a prefix of the unsynced tail, like a torn write', async () => {
    const a = new MemoryAdapter('crash-2', { trackUnsynced: true });
    const f = await a.open('wal', { create: true });
    await f.append(Uint8Array.of(1, 2));
    await f.sync();
    await f.append(Uint8Array.of(5, 6, 7, 8));
    crashMemoryVolumeForTesting('crash-2', { tornTailBytes: (file, tail) => (file === 'wal' ? tail - 1 : 0) });
    const b = new MemoryAdapter('crash-2');
    // synced [1,2]; unsynced tail [5,6,7,8]; 3 of its 4 bytes survive
    assert.deepEqual(await b.readAll('wal'), Uint8Array.of(1, 2, 5, 6, 7));
    await b.close();
    dropMemoryVolume('crash-2');
  });

  it('keepUnsyncedPage keeps any subset of the unsynced pages, like a power loss', async () => {
    const a = new MemoryAdapter('crash-pages', { trackUnsynced: true });
    const f = await a.open('wal', { create: true });
    // synced: 5000 bytes of 1 (pages 0 and 1), then 7000 bytes of 2 written at 3000 (pages 0 to 2), unsynced
    await f.write(0, new Uint8Array(5000).fill(1));
    await f.sync();
    await f.write(3000, new Uint8Array(7000).fill(2));
    const asked: number[] = [];
    crashMemoryVolumeForTesting('crash-pages', {
      keepUnsyncedPage: (file, page) => {
        asked.push(page);
        return page === crashPageBytes; // the middle page only
      },
    });
    assert.deepEqual(asked, [0, crashPageBytes, 2 * crashPageBytes]);
    const got = await new MemoryAdapter('crash-pages').readAll('wal');
    // page 0 as synced, page 1 new (4096..8192 holds 2s), page 2 lost: the file ends with page 1
    assert.equal(got.length, 2 * crashPageBytes);
    assert.ok(got.subarray(0, crashPageBytes).every((x) => x === 1));
    assert.ok(got.subarray(crashPageBytes).every((x) => x === 2));
    // a later page kept without an earlier one past the synced size: zeros in the hole
    const c = new MemoryAdapter('crash-pages', { trackUnsynced: true });
    const g = await c.open('wal2', { create: true });
    await g.write(0, new Uint8Array(3 * crashPageBytes).fill(3));
    crashMemoryVolumeForTesting('crash-pages', { keepUnsyncedPage: (file, page) => file === 'wal2' && page === 2 * crashPageBytes });
    const got2 = await new MemoryAdapter('crash-pages').readAll('wal2');
    assert.equal(got2.length, 3 * crashPageBytes);
    assert.ok(got2.subarray(0, 2 * crashPageBytes).every((x) => x === 0));
    assert.ok(got2.subarray(2 * crashPageBytes).every((x) => x === 3));
    dropMemoryVolume('crash-pages');
  });

  it('crash simulation needs trackUnsynced', async () => {
    const a = new MemoryAdapter('crash-3');
    assert.throws(() => crashMemoryVolumeForTesting('crash-3'), (e) => isLargetableError(e, 'INVALID_ARGUMENT'));
    await a.close();
    dropMemoryVolume('crash-3');
  });

  it('private volumes (no name) are independent', async () => {
    const a = new MemoryAdapter();
    const b = new MemoryAdapter();
    await a.replace('x', Uint8Array.of(1));
    assert.equal(await b.exists('x'), false);
    await a.lock();
    await b.lock();
    await a.close();
    await b.close();
  });
});
