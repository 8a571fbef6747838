import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import process from 'node:process';
import { adapterCases } from '../conformance/storage-adapter.case.ts';
import { type NodeFsAdapter, lockFileName, openNodeFsAdapter } from '../../platform/node/fs-adapter.ts';
import type { FileHandle } from '../../src/storage/adapter.ts';
import { LargetableError, isLargetableError } from '../../src/errors.ts';
import { openStore } from '../../src/storage/index.ts';
import { walPreallocBytesMin } from '../../src/storage/wal.ts';
import { appendsSurviveSigkill, spawnLockHolder, waitExit } from './child.ts';

const root = await fs.mkdtemp(path.join(os.tmpdir(), 'lt-nodefs-'));
after(() => fs.rm(root, { recursive: true, force: true }));
let counter = 0;

adapterCases('node fs', {
  newLocation: () => path.join(root, `c${++counter}`),
  open: (dir) => openNodeFsAdapter(dir),
  cleanup: (dir) => fs.rm(dir, { recursive: true, force: true }),
}, { describe, it }, { modelRuns: 15 });

/** Runs `body` on a new adapter's write-through file 'log' (in a new folder named from `prefix`), then closes the adapter. */
async function withLog(prefix: string, body: (a: NodeFsAdapter, f: FileHandle) => Promise<void>): Promise<void> {
  const a = await openNodeFsAdapter(path.join(root, `${prefix}${++counter}`));
  try {
    await body(a, await a.open('log', { create: true, writeThrough: true }));
  } finally {
    await a.close();
  }
}

/**
 * Runs `n` awaited writes one after another while an immediate ticks: the most writes done
 * between two turns of the event loop.
 */
async function commitsBetweenTurns(n: number, write: (i: number) => Promise<unknown>): Promise<number> {
  let done = 0;
  let lastTick = 0;
  let maxGap = 0;
  let running = true;
  const tick = (): void => {
    maxGap = Math.max(maxGap, done - lastTick);
    lastTick = done;
    if (running) setImmediate(tick);
  };
  setImmediate(tick);
  for (let i = 0; i < n; i++) {
    await write(i);
    done++;
  }
  running = false;
  return Math.max(maxGap, done - lastTick);
}
describe('NodeFsAdapter specifics', () => {
  it('a writeThrough (O_DSYNC) handle writes in place, appends, extends, truncates and syncs like any other', async () => {
    await withLog('wt', async (a, f) => {
      await f.write(0, new Uint8Array(4096)); // preallocated zeros
      await f.sync();
      await f.write(8, new Uint8Array([1, 2, 3]));
      assert.equal(await f.append(new Uint8Array([9])), 4096);
      await f.write(5000, new Uint8Array(0)); // extends (zero-filled) through a truncate
      await f.sync();
      assert.equal(await f.size(), 5000);
      await f.truncate(12);
      await f.sync();
      assert.deepEqual([...(await f.read(0, 100))], [0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 0]);
      await f.close();
      assert.deepEqual([...(await a.readAll('log'))], [0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 0]);
      // the hint applies to the OS file: a later plain open shares it
      const g = await a.open('log');
      await g.write(0, new Uint8Array([7]));
      await g.sync();
      await g.close();
      assert.equal((await a.readAll('log'))[0], 7);
    });
  });

  it('writeDurableSync writes on the calling thread only where a write is durable by itself (writeThrough, no truncate pending)', async () => {
    await withLog('wds', async (a, f) => {
      await f.write(0, new Uint8Array(64));
      await f.sync();
      assert.equal(f.writeDurableSync!(8, new Uint8Array([1, 2, 3])), true);
      assert.equal(f.writeDurableSync!(64, new Uint8Array([4])), true, 'extends the file');
      assert.equal(await f.size(), 65);
      await f.truncate(16);
      assert.equal(f.writeDurableSync!(0, new Uint8Array([9])), false, 'a truncate awaits its sync');
      await f.sync();
      assert.equal(f.writeDurableSync!(0, new Uint8Array([5])), true);
      assert.deepEqual([...(await f.read(0, 100))], [5, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 0, 0, 0, 0, 0]);
      await f.close();
      const g = await a.open('plain', { create: true });
      assert.equal(g.writeDurableSync!(0, new Uint8Array([1])), false, 'not opened writeThrough');
      assert.equal(await g.size(), 0);
      await g.close();
      assert.throws(() => g.writeDurableSync!(0, new Uint8Array([1])), (e) => isLargetableError(e));
    });
  });

  it('strict commits: a sequential writer may be written synchronously, writers that come together still share one write and sync', async () => {
    const dir = path.join(root, `seq${++counter}`);
    const a = await openNodeFsAdapter(dir);
    let syncWrites = 0;
    const open = a.open.bind(a);
    a.open = async (name, o) => {
      const h = await open(name, o);
      const w = h.writeDurableSync?.bind(h);
      if (w !== undefined) h.writeDurableSync = (off, bytes) => {
          const done = w(off, bytes);
          if (done) syncWrites++;
          return done;
        };
      return h;
    };
    const st = await openStore(a, {});
    const key = (i: number): Uint8Array => new TextEncoder().encode(`k${String(i).padStart(4, '0')}`);
    for (let i = 0; i < 40; i++) await st.put(key(i), key(i));
    // how many depends on which way is faster on this machine now; each is tried at least every 16
    assert.ok(syncWrites >= 2, `sequential strict puts written synchronously: ${syncWrites} of 40`);
    // 64 writers issued together: one group (one write, one sync), not 64 blocking writes
    let syncs = st.stats().walSyncs;
    const before = syncWrites;
    await Promise.all(Array.from({ length: 64 }, (_, i) => st.put(key(100 + i), key(i))));
    assert.equal(syncWrites, before, 'a group is written asynchronously');
    assert.ok(st.stats().walSyncs - syncs <= 2, `64 writers together: ${st.stats().walSyncs - syncs} syncs`);
    // 64 writers each arriving in its own macrotask: after at most a run of 16 synchronous writes
    // the event loop turns (or an asynchronous write is in flight), the others queue meanwhile, and
    // they group again
    syncs = st.stats().walSyncs;
    await Promise.all(Array.from({ length: 64 }, (_, i) => new Promise<void>((resolve, reject) => setTimeout(() => st.put(key(200 + i), key(i)).then(() => resolve(), reject), 0))));
    assert.ok(st.stats().walSyncs - syncs <= 18, `64 staggered writers: ${st.stats().walSyncs - syncs} syncs`);
    await st.close();
    const again = await openStore(await openNodeFsAdapter(dir), {});
    for (const i of [0, 39, 100, 163, 200, 263]) assert.deepEqual(await again.get(key(i)), key(i >= 200 ? i - 200 : i >= 100 ? i - 100 : i));
    await again.close();
  });

  it('a sequential strict writer lets the event loop turn every 16 commits or so (its synchronous writes block it)', async () => {
    const dir = path.join(root, `turn${++counter}`);
    const st = await openStore(await openNodeFsAdapter(dir), {});
    const key = (i: number): Uint8Array => new TextEncoder().encode(`k${String(i).padStart(4, '0')}`);
    const maxGap = await commitsBetweenTurns(300, (i) => st.put(key(i), key(i)));
    // the writer yields every 16 commits; the test's own tick is an immediate too, and which of two
    // immediates runs first in a turn varies (Deno measured 18 now and then): bounded, not exact.
    // Writing all 300 without a turn (the fault this guards against) gives 300.
    assert.ok(maxGap <= 2 * 16, `commits between two turns of the event loop: up to ${maxGap}`);
    await st.close();
  });

  it('while a spare WAL is being made, a sequential strict writer lets the event loop turn every 4 commits or so (the spare advances at turns only)', async () => {
    const dir = path.join(root, `spareturn${++counter}`);
    const a = await openNodeFsAdapter(dir);
    // the spare's open waits at this gate: the spare stays in the making while the writer goes on
    let openGate = (): void => {};
    const gate = new Promise<void>((resolve) => (openGate = resolve));
    let spareAsked = false;
    const open = a.open.bind(a);
    a.open = async (name, o) => {
      if (name.endsWith('.wal') && name !== '000001.wal') {
        spareAsked = true;
        await gate;
      }
      return open(name, o);
    };
    const st = await openStore(a, {});
    const key = (i: number): Uint8Array => new TextEncoder().encode(`k${String(i).padStart(4, '0')}`);
    const value = new Uint8Array(1000).fill(3);
    let i = 0;
    // ~1 KB commits: a spare is begun once the first WAL holds 64 KiB
    while (!spareAsked && i < 200) await st.put(key(i++), value);
    assert.ok(spareAsked, 'a spare WAL was begun');
    // 100 more: ~165 KB in all, inside the first WAL's 256 KiB of zeros
    const maxGap = await commitsBetweenTurns(100, () => st.put(key(i++), value));
    // bounded as in the test above (which of two immediates runs first in a turn varies); 16 without the spare rule
    assert.ok(maxGap <= 2 * 4, `commits between two turns of the event loop while the spare is made: up to ${maxGap}`);
    openGate();
    await st.close();
    const again = await openStore(await openNodeFsAdapter(dir), {});
    for (let k = 0; k < i; k++) assert.deepEqual(await again.get(key(k)), value);
    await again.close();
  });

  it("a sequential strict writer's commits are written synchronously, the WAL's next preallocation chunk with them, and the asynchronous way is probed once they get slower", async () => {
    const dir = path.join(root, `seqsync${++counter}`);
    const a = await openNodeFsAdapter(dir);
    let syncWrites = 0;
    let asyncWalWrites = 0;
    let counting = false;
    // each synchronous write also sleeps this long, so that its latency does not depend on how busy the machine is
    let delayMs = 25;
    const sleeper = new Int32Array(new SharedArrayBuffer(4));
    const open = a.open.bind(a);
    a.open = async (name, o) => {
      const h = await open(name, o);
      if (!name.endsWith('.wal')) return h;
      const w = h.writeDurableSync!.bind(h);
      h.writeDurableSync = (off, bytes) => {
        Atomics.wait(sleeper, 0, 0, delayMs);
        const done = w(off, bytes);
        if (done && counting) syncWrites++;
        return done;
      };
      const aw = h.write.bind(h);
      h.write = (off, bytes) => {
        if (counting) asyncWalWrites++;
        return aw(off, bytes);
      };
      return h;
    };
    // no spare WAL: this is the way a commit carries the next chunk of zeros (a spare's writes would count as asynchronous)
    const st = await openStore(a, { walSpare: false });
    await st.idle(); // the open's WAL (made after open() returns, its header and zeros written asynchronously)
    const walBytes = async (): Promise<number> => {
      let n = 0;
      for (const f of await fs.readdir(dir)) if (f.endsWith('.wal')) n += (await fs.stat(path.join(dir, f))).size;
      return n;
    };
    const before = await walBytes();
    const value = new Uint8Array(8000).fill(7);
    const key = (i: number): Uint8Array => new TextEncoder().encode(`k${String(i).padStart(4, '0')}`);
    // ~8 KB a commit (a lone commit is written synchronously up to 8 KiB): past the first chunk of
    // preallocated zeros (the next one, as long, goes with a commit), and past the 17th commit (where
    // a probe of the asynchronous way used to go), not past the second chunk (a larger chunk of zeros
    // goes the asynchronous way)
    const n = 40;
    assert.ok(n * 8000 > walPreallocBytesMin && n * 8100 < 2 * walPreallocBytesMin);
    counting = true;
    for (let i = 0; i < n; i++) await st.put(key(i), value);
    counting = false;
    assert.equal(asyncWalWrites, 0, 'no asynchronous WAL write (a thread-pool round trip each) while the synchronous way costs what it did');
    assert.equal(syncWrites, n);
    assert.ok((await walBytes()) >= before + walPreallocBytesMin, 'the WAL was extended with the next chunk of zeros');
    // the synchronous way gets slower: within a few commits one probes the asynchronous way
    delayMs = 600;
    counting = true;
    let i = n;
    while (asyncWalWrites === 0 && i < n + 8) await st.put(key(i++), value);
    counting = false;
    assert.equal(asyncWalWrites, 1, 'a commit measured the asynchronous way');
    assert.ok(i - n <= 4, `the probe came after ${i - n} slower commits`);
    delayMs = 0;
    await st.close();
    const again = await openStore(await openNodeFsAdapter(dir), {});
    for (let k = 0; k < i; k++) assert.deepEqual(await again.get(key(k)), value);
    await again.close();
  });

  it('a sequential strict writer past the first WAL zeros goes on in the spare WAL: no commit carries zeros', async () => {
    const dir = path.join(root, `spare${++counter}`);
    const st = await openStore(await openNodeFsAdapter(dir), {});
    await st.idle(); // the open's WAL is made after open() returns
    const value = new Uint8Array(4000).fill(7);
    const key = (i: number): Uint8Array => new TextEncoder().encode(`k${String(i).padStart(4, '0')}`);
    const wals = async (): Promise<[string, number][]> => {
      const out: [string, number][] = [];
      for (const f of (await fs.readdir(dir)).sort()) if (f.endsWith('.wal')) out.push([f, (await fs.stat(path.join(dir, f))).size]);
      return out;
    };
    const first = await wals();
    assert.equal(first.length, 1);
    assert.equal(first[0]![1], 8 + walPreallocBytesMin);
    // ~320 KB: past the first WAL's 256 KiB of zeros; the writer waits for the store's background
    // work now and then (the spare is made meanwhile: waiting a fixed time instead failed on a
    // loaded machine, where making it took longer than the writer's pauses)
    for (let i = 0; i < 80; i++) {
      await st.put(key(i), value);
      if (i % 4 === 3) await st.idle();
    }
    const now = await wals();
    assert.ok(now.length >= 2, JSON.stringify(now));
    assert.deepEqual(now[0], first[0], 'the first WAL carried no zeros');
    assert.equal(now[1]![1], 8 + 2 * walPreallocBytesMin, 'the spare: twice the zeros, written ahead');
    await st.close();
    const again = await openStore(await openNodeFsAdapter(dir), {});
    for (let k = 0; k < 80; k++) assert.deepEqual(await again.get(key(k)), value);
    await again.close();
  });

  it("the commit that switches to the spare WAL issues its write before the old WAL's close (a close is a thread-pool request too)", async () => {
    const dir = path.join(root, `spareclose${++counter}`);
    const a = await openNodeFsAdapter(dir);
    const calls: string[] = [];
    const open = a.open.bind(a);
    a.open = async (name, o) => {
      const h = await open(name, o);
      if (!name.endsWith('.wal')) return h;
      const w = h.write.bind(h);
      h.write = (off, bytes) => {
        // records (not a spare's header at 0 or its zeros)
        if (off > 0 && bytes.some((b) => b !== 0)) calls.push(`write ${name}`);
        return w(off, bytes);
      };
      const ws = h.writeDurableSync?.bind(h);
      if (ws !== undefined) h.writeDurableSync = (off, bytes) => {
        const done = ws(off, bytes);
        if (done) calls.push(`write ${name}`);
        return done;
      };
      const c = h.close.bind(h);
      h.close = () => {
        calls.push(`close ${name}`);
        return c();
      };
      return h;
    };
    const st = await openStore(a, {});
    const value = new Uint8Array(4000).fill(7);
    const key = (i: number): Uint8Array => new TextEncoder().encode(`k${String(i).padStart(4, '0')}`);
    // past the first WAL's 256 KiB of zeros, pausing for the spare to be made (as in the test above)
    for (let i = 0; i < 80; i++) {
      await st.put(key(i), value);
      if (i % 4 === 3) await st.idle();
    }
    const at = calls.indexOf('close 000001.wal');
    assert.ok(at > 0, calls.slice(-4).join(', '));
    assert.equal(calls[at - 1], 'write 000002.wal', `the switching write first: ${calls.slice(at - 2, at + 2).join(', ')}`);
    assert.equal(calls.filter((c) => c === 'write 000001.wal').length, calls.indexOf('write 000002.wal'), 'no write to the old WAL after the switch');
    await st.close();
    const again = await openStore(await openNodeFsAdapter(dir), {});
    for (let k = 0; k < 80; k++) assert.deepEqual(await again.get(key(k)), value);
    await again.close();
  });

  it('syncPending: false only on a write-through handle with no truncate to sync and no new directory entry', async () => {
    await withLog('pending', async (a, f) => {
      assert.equal(f.syncPending!(), true, 'the new file\'s directory entry');
      await f.sync();
      assert.equal(f.syncPending!(), false);
      assert.equal(f.writeDurableSync!(0, new Uint8Array([1, 2])), true);
      assert.equal(f.syncPending!(), false, 'a durable write leaves nothing to sync');
      await f.truncate(1);
      assert.equal(f.syncPending!(), true, 'a truncate awaits its sync');
      await f.sync();
      const other = await a.open('other', { create: true, writeThrough: true });
      assert.equal(f.syncPending!(), false, "another file's new directory entry is that file's to sync");
      assert.equal(other.syncPending!(), true, 'its own new directory entry');
      await other.sync();
      assert.equal(other.syncPending!(), false);
      const plain = await a.open('plain', { create: true });
      await plain.sync();
      assert.equal(plain.syncPending!(), true, 'not write-through');
      await plain.close();
      await other.close();
      await f.close();
    });
  });

  it('a synchronous WAL write that fails rejects its commit with IO_ERROR and stops the store; one the handle declines goes the asynchronous way', async () => {
    const dir = path.join(root, `syncfail${++counter}`);
    const n = { mode: 'ok' as 'ok' | 'decline' | 'throw', declined: 0, asyncWalWrites: 0 };
    const openWrapped = async (): Promise<Awaited<ReturnType<typeof openStore>>> => {
      const a = await openNodeFsAdapter(dir);
      const open = a.open.bind(a);
      a.open = async (name, o) => {
        const h = await open(name, o);
        if (!name.endsWith('.wal')) return h;
        const w = h.writeDurableSync!.bind(h);
        h.writeDurableSync = (off, bytes) => {
          if (n.mode === 'decline') {
            n.declined++;
            return false;
          }
          if (n.mode === 'throw') throw new LargetableError('IO_ERROR', 'injected', { details: { file: name, operation: 'write' } });
          return w(off, bytes);
        };
        const aw = h.write.bind(h);
        h.write = (off, bytes) => {
          n.asyncWalWrites++;
          return aw(off, bytes);
        };
        return h;
      };
      const st = await openStore(a, {});
      await st.idle(); // the open's WAL is made after open() returns
      n.asyncWalWrites = 0; // the WAL's header and first zeros
      return st;
    };
    const key = (i: number): Uint8Array => new TextEncoder().encode(`k${i}`);
    // a fresh store takes the synchronous way until it measured the other
    let st = await openWrapped();
    for (let i = 0; i < 5; i++) await st.put(key(i), key(i));
    assert.equal(n.asyncWalWrites, 0, 'a sequential writer: synchronous writes');
    n.mode = 'decline';
    await st.put(key(5), key(5));
    assert.ok(n.declined >= 1 && (n.asyncWalWrites as number) === 1, `declined ${n.declined}, asynchronous writes ${n.asyncWalWrites}`);
    assert.deepEqual(await st.get(key(5)), key(5));
    n.mode = 'ok';
    await st.close();
    st = await openWrapped();
    await st.put(key(6), key(6));
    n.mode = 'throw';
    await assert.rejects(st.put(key(7), key(7)), (e) => isLargetableError(e, 'IO_ERROR'));
    assert.equal(await st.get(key(7)), undefined, 'the failed commit is not visible');
    n.mode = 'ok';
    await assert.rejects(st.put(key(8), key(8)), (e) => isLargetableError(e, 'IO_ERROR'), 'the store stopped');
    await st.close().catch(() => undefined);
    const again = await openStore(await openNodeFsAdapter(dir), {});
    for (let i = 0; i <= 6; i++) assert.deepEqual(await again.get(key(i)), key(i));
    assert.equal(await again.get(key(8)), undefined);
    await again.close();
  });

  it('a failing OS call is IO_ERROR with file, operation and errno', async () => {
    const dir = path.join(root, 'io');
    const a = await openNodeFsAdapter(dir);
    await fs.mkdir(path.join(dir, 'sub'));
    await assert.rejects(a.open('sub'), (e) => isLargetableError(e, 'IO_ERROR') && e.details['file'] === 'sub' && e.details['operation'] === 'open' && e.details['errno'] === 'EISDIR');
    await assert.rejects(a.readAll('sub'), (e) => isLargetableError(e, 'IO_ERROR') && e.details['operation'] === 'readAll');
    assert.deepEqual(await a.list(), [], 'directories are not listed');
    await a.close();
    await fs.writeFile(path.join(root, 'plain-file'), 'x');
    await assert.rejects(openNodeFsAdapter(path.join(root, 'plain-file')), (e) => isLargetableError(e, 'IO_ERROR'));
    await assert.rejects(openNodeFsAdapter(path.join(root, 'nope'), { create: false }), (e) => isLargetableError(e, 'NOT_FOUND'));
  });

  it('lock and temp files are hidden from list(); a crashed replace leaves no visible file', async () => {
    const dir = path.join(root, 'hidden');
    const a = await openNodeFsAdapter(dir);
    await a.lock();
    await fs.writeFile(path.join(dir, 'MANIFEST~9.tmp'), 'partial');
    assert.deepEqual(await a.list(), []);
    await a.close();
    const b = await openNodeFsAdapter(dir);
    await b.lock(); // cleans leftovers of an interrupted replace
    assert.deepEqual((await fs.readdir(dir)).sort(), [lockFileName]);
    await b.close();
    assert.deepEqual(await fs.readdir(dir), [], 'close removes the lock file');
  });

  it('a second process gets LOCKED; the lock of a SIGKILLed process is taken over', async () => {
    const dir = path.join(root, 'proc');
    await fs.mkdir(dir);
    const holder = spawnLockHolder('node', dir, 'hold');
    assert.equal(await holder.firstLine, 'HELD');
    const a = await openNodeFsAdapter(dir);
    await assert.rejects(a.lock(), (e) => isLargetableError(e, 'LOCKED'));
    holder.child.kill('SIGKILL');
    await waitExit(holder.child);
    await a.lock(); // stale: its pid is dead
    const other = spawnLockHolder('node', dir, 'try');
    assert.equal(await other.firstLine, 'LOCKED', 'the child is refused while we hold the lock');
    await waitExit(other.child);
    await a.close();
    const third = spawnLockHolder('node', dir, 'try');
    assert.equal(await third.firstLine, 'HELD');
    await waitExit(third.child);
  });

  it('a lock file of a dead pid, or of our pid but not held by us, is stale', async () => {
    const dir = path.join(root, 'stale');
    await fs.mkdir(dir);
    await fs.writeFile(path.join(dir, lockFileName), JSON.stringify({ pid: 2 ** 22 + 12345, start: null, host: os.hostname(), token: 'dead' }));
    const a = await openNodeFsAdapter(dir);
    await a.lock();
    await a.close();
    await fs.writeFile(path.join(dir, lockFileName), JSON.stringify({ pid: process.pid, start: null, host: os.hostname(), token: 'not-ours' }));
    const b = await openNodeFsAdapter(dir);
    await b.lock();
    await b.close();
    await fs.writeFile(path.join(dir, lockFileName), JSON.stringify({ pid: 1, start: null, host: 'another-host', token: 'remote' }));
    const c = await openNodeFsAdapter(dir);
    await assert.rejects(c.lock(), (e) => isLargetableError(e, 'LOCKED'), 'a lock from another host is never taken over');
    await c.close();
  });

  it('acknowledged (synced) appends survive SIGKILL of the writing process, 3 kills in a row', async () => {
    await appendsSurviveSigkill('node', path.join(root, 'sigkill'), (dir) => openNodeFsAdapter(dir));
  });
});
