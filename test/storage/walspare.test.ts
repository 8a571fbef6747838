/**
 * Spare WALs (docs/FORMAT.md "WAL"): with preallocation the engine makes the next WAL ahead, off the
 * commit path (header and zeros, synced, then listed in the manifest after the live WAL), and the
 * write that would pass the live WAL's zeros goes to the spare's instead of carrying new zeros. A
 * spare listed at a crash is replayed empty; one not yet listed is an orphan the next open deletes;
 * a spare that cannot be made leaves the store writing as before; crashes at every step of making and
 * switching lose no acknowledged write.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { crashMemoryVolumeForTesting, dropMemoryVolume, MemoryAdapter } from '../../platform/memory.ts';
import { isLargetableError } from '../../src/errors.ts';
import { openStore, type EngineOptions, type Store } from '../../src/storage/index.ts';
import { decodeManifest, encodeManifest, manifestName, type ManifestState } from '../../src/storage/manifest.ts';
import { scanWal, walName, walPreallocBytesMin } from '../../src/storage/wal.ts';
import { FaultyAdapter, type FaultMethod } from '../faults/faulty.ts';

const te = new TextEncoder();
const td = new TextDecoder();
const opts: EngineOptions = { walPreallocate: true, autoCompact: false };
const key = (i: number): Uint8Array => te.encode(`k${String(i).padStart(6, '0')}`);
/** ~700 bytes, never zero, distinct per key. */
const value = (i: number): Uint8Array => te.encode(`v${i}:`.padEnd(700, String.fromCharCode(97 + (i % 26))));
/** Lets background work (a spare being made, a manifest edit) finish. */
const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 5));

async function manifest(vol: string): Promise<ManifestState> {
  return decodeManifest(await new MemoryAdapter(vol).readAll(manifestName));
}
async function walFiles(vol: string): Promise<string[]> {
  return (await new MemoryAdapter(vol).list()).filter((f) => f.endsWith('.wal'));
}
async function walBytes(vol: string, file: number): Promise<Uint8Array> {
  return new MemoryAdapter(vol).readAll(walName(file));
}
async function puts(st: Store, from: number, to: number): Promise<void> {
  for (let i = from; i < to; i++) await st.put(key(i), value(i));
}
async function assertAll(st: Store, n: number, label: string): Promise<void> {
  for (let i = 0; i < n; i++) {
    const v = await st.get(key(i));
    assert.ok(v !== undefined && td.decode(v) === td.decode(value(i)), `${label}: key ${i} lost`);
  }
}

/** Opens the volume again: the first `n` keys are there, and verify() passes. */
async function reopen(vol: string, n: number, label: string): ReturnType<typeof openStore> {
  const st = await openStore(new MemoryAdapter(vol, { trackUnsynced: true }), opts);
  await assertAll(st, n, label);
  assert.ok((await st.verify()).ok, label);
  return st;
}

describe('spare WALs', () => {
  it('a write that would pass the live WAL zeros goes to the spare; a rotation takes the spare; close drops an unused one', async () => {
    const vol = 'walspare-switch';
    let st = await openStore(new MemoryAdapter(vol, { trackUnsynced: true }), opts);
    // ~70 KB of records: past 64 KiB of the first WAL's 256 KiB of zeros (192 KiB left), a spare is made
    await puts(st, 0, 100);
    await settle();
    let m = await manifest(vol);
    assert.equal(m.wals.length, 2, 'live WAL and spare listed');
    const [first, spare] = m.wals as [number, number];
    let bytes = await walBytes(vol, spare);
    assert.equal(bytes.length, 8 + 2 * walPreallocBytesMin, 'a spare holds twice the live WAL zeros');
    assert.equal(scanWal(bytes, walName(spare)).records.length, 0);
    // ~280 KB in all: past the first WAL's 256 KiB of zeros; the records after it go to the spare
    await puts(st, 100, 400);
    await settle();
    bytes = await walBytes(vol, first);
    assert.equal(bytes.length, 8 + walPreallocBytesMin, 'the first WAL carried no zeros');
    const a = scanWal(bytes, walName(first));
    const b = scanWal(await walBytes(vol, spare), walName(spare));
    assert.ok(a.records.length > 300 && b.records.length > 0, `${a.records.length} + ${b.records.length} records`);
    assert.equal(a.records.length + b.records.length, 400);
    assert.equal(b.records[0]!.seq, a.records[a.records.length - 1]!.seq + 1, 'the log continues in the spare');
    m = await manifest(vol);
    assert.deepEqual(m.wals, [first, spare]);
    // past half of the spare's zeros its own spare is made; a rotation takes it instead of creating a WAL
    await puts(st, 400, 800);
    await settle();
    m = await manifest(vol);
    assert.equal(m.wals.length, 3);
    assert.equal(m.walSizes[String(first)], a.validEnd, 'the old WAL size is recorded (its durable mark) by the next edit');
    const next = m.wals[2]!;
    await st.flush();
    m = await manifest(vol);
    assert.deepEqual(m.wals, [next], 'the rotation took the spare');
    assert.deepEqual(await walFiles(vol), [walName(next)]);
    // close: an unused spare is no longer listed, and removed
    await puts(st, 800, 1600);
    await settle();
    assert.equal((await manifest(vol)).wals.length, 2);
    await st.close();
    m = await manifest(vol);
    assert.deepEqual(m.wals, [next]);
    assert.deepEqual(await walFiles(vol), [walName(next)]);
    st = await reopen(vol, 1600, 'reopened');
    await st.close();
    dropMemoryVolume(vol);
  });

  it('a spare listed at a crash is replayed as an empty WAL: every acknowledged write is back, and a flush removes it', async () => {
    const vol = 'walspare-crash';
    let st = await openStore(new MemoryAdapter(vol, { trackUnsynced: true }), opts);
    await puts(st, 0, 100);
    await settle();
    const [, spare] = (await manifest(vol)).wals as [number, number];
    assert.equal(scanWal(await walBytes(vol, spare), walName(spare)).records.length, 0);
    crashMemoryVolumeForTesting(vol);
    st = await reopen(vol, 100, 'after the crash');
    assert.equal(st.recovery.walRecordsReplayed, 100);
    assert.equal(st.recovery.tornTailBytesTruncated, 0);
    // the spare never got records: its zeros were cut, and it goes with the replayed memtable's WALs
    assert.equal((await walBytes(vol, spare)).length, 8);
    await st.flush();
    assert.ok(!(await walFiles(vol)).includes(walName(spare)));
    await puts(st, 100, 500);
    crashMemoryVolumeForTesting(vol);
    st = await reopen(vol, 500, 'after the second crash');
    await st.close();
    dropMemoryVolume(vol);
  });

  it('invalid bytes after the last record of a WAL the log continues after are CORRUPTION, not a torn tail', async () => {
    const vol = 'walspare-damage';
    const st = await openStore(new MemoryAdapter(vol, { trackUnsynced: true }), opts);
    await puts(st, 0, 400);
    await settle();
    crashMemoryVolumeForTesting(vol);
    const ad = new MemoryAdapter(vol);
    const m = await manifest(vol);
    const [first, second] = m.wals as [number, number];
    assert.ok(scanWal(await walBytes(vol, second), walName(second)).records.length > 0);
    // as at a crash before the old WAL's size was recorded (no durable mark), then its last record damaged
    delete m.walSizes[String(first)];
    await ad.replace(manifestName, encodeManifest(m));
    const scan = scanWal(await walBytes(vol, first), walName(first));
    const last = scan.records[scan.records.length - 1]!;
    const h = await ad.open(walName(first));
    await h.write(last.end - 3, new Uint8Array([0xff]));
    await h.sync();
    await h.close();
    await assert.rejects(openStore(new MemoryAdapter(vol), opts), (err: unknown) => {
      assert.ok(isLargetableError(err) && err.code === 'CORRUPTION', String(err));
      assert.equal(err.details['file'], walName(first));
      assert.equal(err.details['offset'], last.offset);
      return true;
    });
    // the damaged bytes were not cut off
    assert.equal((await walBytes(vol, first))[last.end - 3], 0xff);
    dropMemoryVolume(vol);
  });

  it('a spare that cannot be made leaves the store writing as before (zeros carried), with no file left behind', async () => {
    for (const method of ['open', 'write', 'sync'] as FaultMethod[]) {
      const vol = `walspare-fail-${method}`;
      const fa = new FaultyAdapter(new MemoryAdapter(vol, { trackUnsynced: true }));
      let st = await openStore(fa, opts);
      await st.idle(); // the open's WAL is made after open() returns
      const firstWal = (await manifest(vol)).wals[0]!;
      // every call on any other WAL fails: the spare fails (and is not tried again for this WAL)
      fa.arm({ method, nth: 1, mode: 'persistent', file: (f) => f.endsWith('.wal') && f !== walName(firstWal) });
      await puts(st, 0, 1000);
      await settle();
      assert.ok(fa.injected >= 1, `${method}: the spare failed`);
      assert.deepEqual((await manifest(vol)).wals, [firstWal], method);
      assert.deepEqual(await walFiles(vol), [walName(firstWal)], `${method}: no spare file left`);
      const bytes = await walBytes(vol, firstWal);
      assert.ok(bytes.length > 8 + 2 * walPreallocBytesMin, `${method}: the live WAL carried its zeros`);
      await assertAll(st, 1000, method);
      fa.arm(null);
      await st.close();
      st = await openStore(new MemoryAdapter(vol, { trackUnsynced: true }), opts);
      await assertAll(st, 1000, `${method}, reopened`);
      await st.close();
      dropMemoryVolume(vol);
    }
  });

  it('a crash at any step of making a spare or switching to it loses no acknowledged write and leaves no orphan', async () => {
    let runs = 0;
    for (const method of ['open', 'write', 'sync', 'replace', 'remove', 'close', 'truncate'] as FaultMethod[]) {
      for (let nth = 1; nth <= 6; nth++) {
        const vol = `walspare-crash-${method}-${nth}`;
        const fa = new FaultyAdapter(new MemoryAdapter(vol, { trackUnsynced: true }), () => crashMemoryVolumeForTesting(vol));
        const st = await openStore(fa, opts);
        await st.idle(); // the open's WAL is made after open() returns
        const firstWal = (await manifest(vol)).wals[0]!;
        // calls on the first WAL are commits: the plan counts the spares' calls and the manifest's
        fa.arm({ method, nth, mode: 'crash', file: (f) => f !== walName(firstWal) });
        let acked = 0;
        try {
          for (let i = 0; i < 900; i++) {
            await st.put(key(i), value(i));
            acked = i + 1;
            if (i % 150 === 149) await settle();
          }
          await st.close();
        } catch (err) {
          assert.ok(isLargetableError(err), String(err));
        }
        if (!fa.crashed) {
          fa.crashed = true;
          crashMemoryVolumeForTesting(vol);
        } else runs++;
        const label = `${method}#${nth}`;
        const re = await openStore(new MemoryAdapter(vol, { trackUnsynced: true }), opts);
        const rep = await re.verify();
        assert.ok(rep.ok, `${label}: ${JSON.stringify(rep.errors)}`);
        await assertAll(re, acked, label);
        const listed = new Set((await manifest(vol)).wals.map(walName));
        for (const f of await walFiles(vol)) assert.ok(listed.has(f), `${label}: ${f} not listed (orphan)`);
        await re.close();
        dropMemoryVolume(vol);
      }
    }
    assert.ok(runs >= 20, `${runs} runs crashed`);
  });
});
