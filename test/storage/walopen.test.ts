/**
 * The first WAL of an open is made after `open()` returns (docs/ARCHITECTURE.md "Storage", recovery):
 * reads are served from the replayed state at once, writes wait for the WAL. A crash at any step of
 * making it loses nothing and leaves no orphan; writes racing it are all acknowledged in order and
 * durable; a failed creation stops the store (IO_ERROR on the first write and later ones) without
 * losing data; close() before it finished closes cleanly.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { crashMemoryVolumeForTesting, dropMemoryVolume, MemoryAdapter } from '../../platform/memory.ts';
import { isLargetableError } from '../../src/errors.ts';
import { openStore, type EngineOptions } from '../../src/storage/index.ts';
import { decodeManifest, manifestName, type ManifestState } from '../../src/storage/manifest.ts';
import { walName } from '../../src/storage/wal.ts';
import { FaultyAdapter, type FaultMethod } from '../faults/faulty.ts';

type Store = Awaited<ReturnType<typeof openStore>>;
const te = new TextEncoder();
const td = new TextDecoder();
const opts: EngineOptions = { walPreallocate: true, autoCompact: false };
const key = (i: number): Uint8Array => te.encode(`k${String(i).padStart(6, '0')}`);
const value = (i: number): Uint8Array => te.encode(`v${i}:`.padEnd(300, String.fromCharCode(97 + (i % 26))));

/** Holds every manifest replace while `gate` is set: the open's new WAL is not listed until it is released. */
class GatedAdapter extends FaultyAdapter {
  gate: Promise<void> | undefined;
  release: () => void = () => {};
  held = 0;
  hold(): void {
    this.gate = new Promise((r) => {
      this.release = () => {
        this.gate = undefined;
        r();
      };
    });
  }
  override async replace(name: string, bytes: Uint8Array): Promise<void> {
    if (this.gate !== undefined) {
      this.held++;
      await this.gate;
    }
    return super.replace(name, bytes);
  }
}
const turns = async (n: number): Promise<void> => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
};

/** Opens `vol` through a GatedAdapter holding manifest replaces: open() returns, the new WAL is not listed yet. */
async function openGated(vol: string): Promise<{ ga: GatedAdapter; st: Store }> {
  const ga = new GatedAdapter(new MemoryAdapter(vol, { trackUnsynced: true }));
  ga.hold();
  return { ga, st: await openStore(ga, opts) };
}

async function manifest(vol: string): Promise<ManifestState> {
  return decodeManifest(await new MemoryAdapter(vol).readAll(manifestName));
}
async function walFiles(vol: string): Promise<string[]> {
  return (await new MemoryAdapter(vol).list()).filter((f) => f.endsWith('.wal'));
}
async function assertKeys(st: Store, from: number, to: number, label: string): Promise<void> {
  for (let i = from; i < to; i++) {
    const v = await st.get(key(i));
    assert.ok(v !== undefined && td.decode(v) === td.decode(value(i)), `${label}: key ${i} lost`);
  }
}
/** Every WAL file is listed in the manifest (no orphan), and verify() passes. */
async function assertClean(st: Store, vol: string, label: string): Promise<void> {
  const rep = await st.verify();
  assert.ok(rep.ok, `${label}: ${JSON.stringify(rep.errors)}`);
  await st.idle();
  const listed = new Set((await manifest(vol)).wals.map(walName));
  for (const f of await walFiles(vol)) assert.ok(listed.has(f), `${label}: ${f} not listed (orphan)`);
}

/**
 * A volume holding keys [0, n) in WALs: `crashed` leaves them in the WAL of a store that was never
 * closed (records, then preallocated zeros: the next open replays and cuts them), else a clean close.
 * Returns the file number of the WAL the next open makes.
 */
async function prepare(vol: string, n: number, crashed: boolean): Promise<number> {
  dropMemoryVolume(vol);
  const st = await openStore(new MemoryAdapter(vol, { trackUnsynced: true }), opts);
  for (let i = 0; i < n; i++) await st.put(key(i), value(i));
  if (crashed) {
    await st.idle();
    crashMemoryVolumeForTesting(vol);
  } else await st.close();
  return (await manifest(vol)).nextFile;
}

describe('the first WAL of an open is made after open() returns', { timeout: 60_000 }, () => {
  it('reads are served before it exists; it is listed (and the replayed WAL sizes recorded) once made', async () => {
    for (const crashed of [false, true]) {
      const vol = `walopen-basic-${crashed}`;
      const next = await prepare(vol, 50, crashed);
      const before = await manifest(vol);
      const { ga, st } = await openGated(vol);
      // open() returned and the new WAL cannot be listed yet: the data is readable, a write waits
      await assertKeys(st, 0, 50, `crashed=${crashed}`);
      let acked = false;
      const w = st.put(key(50), value(50)).then(() => {
        acked = true;
      });
      await turns(5);
      assert.equal(ga.held, 1, 'the listing of the new WAL waits');
      assert.deepEqual((await manifest(vol)).wals, before.wals);
      assert.equal(acked, false, 'a write waits for the WAL');
      await assertKeys(st, 0, 50, `crashed=${crashed}, a write waiting`);
      ga.release();
      await w;
      const after = await manifest(vol);
      assert.deepEqual(after.wals, [...before.wals, next]);
      for (const x of before.wals) assert.ok(after.walSizes[String(x)] !== undefined, `WAL ${x}: size recorded`);
      await st.close();
      const re = await openStore(new MemoryAdapter(vol, { trackUnsynced: true }), opts);
      await assertKeys(re, 0, 51, `crashed=${crashed}, reopened`);
      await assertClean(re, vol, `crashed=${crashed}`);
      await re.close();
      dropMemoryVolume(vol);
    }
  });

  it('a crash at any step of making it (or of the recovery cut before it) loses nothing and leaves no orphan', async () => {
    let runs = 0;
    for (const crashed of [false, true]) {
      for (const method of ['open', 'truncate', 'write', 'sync', 'replace', 'close'] as FaultMethod[]) {
        for (let nth = 1; nth <= 3; nth++) {
          const vol = `walopen-crash-${crashed}-${method}-${nth}`;
          const next = await prepare(vol, 40, crashed);
          const fa = new FaultyAdapter(new MemoryAdapter(vol, { trackUnsynced: true }), () => crashMemoryVolumeForTesting(vol));
          // calls after recovery read the files: the cut of a replayed WAL, the new WAL, the manifest
          fa.arm({ method, nth, mode: 'crash', file: (f) => f === walName(next) || f === manifestName || (method === 'truncate' && f.endsWith('.wal')) });
          let acked = 40;
          let st: Store | undefined;
          try {
            st = await openStore(fa, opts);
            // a write issued at once waits for the WAL
            await st.put(key(40), value(40));
            acked = 41;
            await st.close();
          } catch (err) {
            assert.ok(isLargetableError(err), String(err));
          }
          const label = `crashed=${crashed} ${method}#${nth}`;
          if (!fa.crashed) {
            fa.crashed = true;
            crashMemoryVolumeForTesting(vol);
          } else runs++;
          const re = await openStore(new MemoryAdapter(vol, { trackUnsynced: true }), opts);
          await assertKeys(re, 0, acked, label);
          await assertClean(re, vol, label);
          await re.put(key(41), value(41));
          await re.close();
          dropMemoryVolume(vol);
        }
      }
    }
    assert.ok(runs >= 15, `${runs} runs crashed`);
  });

  it('writes racing it are acknowledged in order and durable (strict and relaxed)', async () => {
    for (const crashed of [false, true]) {
      const vol = `walopen-race-${crashed}`;
      await prepare(vol, 30, crashed);
      const { ga, st } = await openGated(vol);
      // issued while the WAL is not listed: no strict write may be acknowledged before it is (a
      // relaxed one is acknowledged from memory when nothing is queued ahead of it)
      const acks = [];
      let strictAcked = 0;
      for (let i = 30; i < 90; i++) {
        const strict = i % 3 !== 0;
        acks.push(st.write([{ type: 'put', key: key(i), value: value(i) }], { durability: strict ? 'strict' : 'relaxed' }).then((c) => (strict && strictAcked++, c)));
        if (i % 20 === 0) await turns(1);
      }
      await turns(5);
      assert.equal(strictAcked, 0, 'no strict write acknowledged before the WAL is listed');
      ga.release();
      const seqs = (await Promise.all(acks)).map((c) => c.seq);
      for (let i = 1; i < seqs.length; i++) assert.ok(seqs[i]! > seqs[i - 1]!, 'sequence numbers in issue order');
      await assertKeys(st, 0, 90, `crashed=${crashed}`);
      // the last write is strict: it and everything before it survive a crash
      await st.put(key(90), value(90));
      crashMemoryVolumeForTesting(vol);
      const re = await openStore(new MemoryAdapter(vol, { trackUnsynced: true }), opts);
      await assertKeys(re, 0, 91, `crashed=${crashed}, after a crash`);
      await assertClean(re, vol, `crashed=${crashed}`);
      await re.close();
      dropMemoryVolume(vol);
    }
  });

  it('a failed creation stops the store: IO_ERROR on the first write and later ones, reads go on, no data lost', async () => {
    for (const method of ['open', 'truncate', 'write', 'sync', 'replace'] as FaultMethod[]) {
      for (const crashed of [false, true]) {
        const vol = `walopen-fail-${method}-${crashed}`;
        const next = await prepare(vol, 40, crashed);
        const fa = new FaultyAdapter(new MemoryAdapter(vol, { trackUnsynced: true }));
        fa.arm({ method, nth: 1, mode: 'persistent', file: (f) => f === walName(next) || f === manifestName });
        const label = `${method} crashed=${crashed}`;
        const st = await openStore(fa, opts);
        await assert.rejects(st.put(key(40), value(40)), (err: unknown) => isLargetableError(err) && err.code === 'IO_ERROR', `${label}: first write`);
        await assert.rejects(st.put(key(41), value(41)), (err: unknown) => isLargetableError(err) && err.code === 'IO_ERROR', `${label}: later write`);
        assert.ok(fa.injected >= 1, `${label}: the fault was hit`);
        await assertKeys(st, 0, 40, label);
        await st.close();
        fa.arm(null);
        const re = await openStore(new MemoryAdapter(vol, { trackUnsynced: true }), opts);
        await assertKeys(re, 0, 40, `${label}, reopened`);
        assert.equal(await re.get(key(40)), undefined);
        await re.put(key(40), value(40));
        await assertClean(re, vol, label);
        await re.close();
        dropMemoryVolume(vol);
      }
    }
  });

  it('close() before it finished waits for it and closes cleanly', async () => {
    for (const crashed of [false, true]) {
      const vol = `walopen-close-${crashed}`;
      await prepare(vol, 30, crashed);
      let { ga, st } = await openGated(vol);
      let closed = false;
      let c = st.close().then(() => {
        closed = true;
      });
      await turns(5);
      assert.equal(closed, false, 'close waits for the WAL');
      ga.release();
      await c;
      ({ ga, st } = await openGated(vol));
      const w = st.put(key(30), value(30));
      c = st.close();
      await turns(5);
      ga.release();
      await c;
      await w;
      const re = await openStore(new MemoryAdapter(vol, { trackUnsynced: true }), opts);
      await assertKeys(re, 0, 31, `crashed=${crashed}`);
      await assertClean(re, vol, `crashed=${crashed}`);
      await re.close();
      dropMemoryVolume(vol);
    }
  });
});
