/**
 * Power loss (docs/FORMAT.md "WAL", synced marks): a crash may keep any subset of the pages of an
 * unsynced write, not only a prefix (a filesystem writes dirty pages back in no set order), which a
 * killed process cannot do. Property, over random group commits from concurrent writers (strict and
 * relaxed, values of random sizes, so that a group spans pages) crashed at a random WAL write or
 * sync with a random subset of the unsynced pages kept:
 * - the store opens: no CORRUPTION when only unsynced bytes were lost;
 * - every acknowledged write is there, with its value;
 * - the writes present are a prefix of the writes issued (in sequence order): a record after a
 *   lost one is never replayed, though its bytes survived;
 * - the store goes on (writes, reopens, verify passes);
 * - damage to a record whose bytes had been synced (a later record's synced mark passes it) is
 *   still CORRUPTION, naming the WAL and the record's offset.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { crashMemoryVolumeForTesting, dropMemoryVolume, MemoryAdapter } from '../../platform/memory.ts';
import { isLargetableError, type LargetableError } from '../../src/errors.ts';
import { openStore, type EngineOptions } from '../../src/storage/index.ts';
import type { Store } from '../../src/storage/store.ts';
import { decodeManifest, manifestName } from '../../src/storage/manifest.ts';
import { scanWal, sealRecord, walMarkBytes, walName } from '../../src/storage/wal.ts';

const te = new TextEncoder();
const key = (i: number): Uint8Array => te.encode(`k${String(i).padStart(6, '0')}`);
/** `size` bytes, never zero, distinct per write. */
function value(i: number, size: number): Uint8Array {
  const v = new Uint8Array(size);
  for (let j = 0; j < size; j++) v[j] = ((i * 31 + j) % 251) + 1;
  return v;
}

interface Case {
  prealloc: boolean;
  spare: boolean;
  smallMemtable: boolean;
  /** Rounds of concurrent writes: each a list of (value size, strict). */
  rounds: [number, boolean][][];
  /** The WAL event ('wal-append' or 'wal-sync') at which the power fails, counted from the first. */
  crashAt: number;
  /** Probability that an unsynced page survives, and the draws that pick them (one per page asked, in turn). */
  keep: number;
  draws: Uint8Array;
  /** Where in a synced record a byte is flipped (a fraction of the records, of the record's length). */
  flipRecord: number;
  flipAt: number;
}

const caseArb: fc.Arbitrary<Case> = fc.record({
  prealloc: fc.boolean(),
  spare: fc.boolean(),
  smallMemtable: fc.boolean(),
  rounds: fc.array(fc.array(fc.tuple(fc.integer({ min: 20, max: 3000 }), fc.integer({ min: 0, max: 9 }).map((x) => x < 7)), { minLength: 1, maxLength: 64 }), { minLength: 1, maxLength: 12 }),
  crashAt: fc.nat(40),
  keep: fc.constantFrom(0.2, 0.5, 0.8),
  draws: fc.uint8Array({ minLength: 64, maxLength: 64 }),
  flipRecord: fc.double({ min: 0, max: 0.999, noNaN: true }),
  flipAt: fc.double({ min: 0, max: 0.999, noNaN: true }),
});

let volumes = 0;

async function runCase(c: Case): Promise<void> {
  const vol = `powerloss-${++volumes}`;
  let drawn = 0;
  const pick = (): number => c.draws[drawn++ % c.draws.length]! / 256;
  const opts: EngineOptions = { walPreallocate: c.prealloc, walSpare: c.spare, autoCompact: false, memtableSizeBytes: c.smallMemtable ? 48 * 1024 : undefined };
  let events = 0;
  let crashed = false;
  const st = await openStore(new MemoryAdapter(vol, { trackUnsynced: true }), {
    ...opts,
    onEvent: (e) => {
      if (crashed || (e !== 'wal-append' && e !== 'wal-sync')) return;
      if (events++ !== c.crashAt) return;
      crashed = true;
      crashMemoryVolumeForTesting(vol, { keepUnsyncedPage: () => pick() < c.keep });
    },
  });
  const sizes: number[] = [];
  const acked = new Set<number>();
  for (const round of c.rounds) {
    if (crashed) break;
    const all: Promise<unknown>[] = [];
    for (const [size, strict] of round) {
      const i = sizes.length;
      sizes.push(size);
      all.push(
        st.write([{ type: 'put', key: key(i), value: value(i, size) }], { durability: strict ? 'strict' : 'relaxed' }).then(
          () => void (strict && acked.add(i)),
          () => undefined,
        ),
      );
    }
    await Promise.all(all);
  }
  if (!crashed) {
    // the crash comes after the last write: whatever is unsynced then (relaxed records)
    crashed = true;
    crashMemoryVolumeForTesting(vol, { keepUnsyncedPage: () => pick() < c.keep });
  }
  await st.close().catch(() => undefined);

  // the store opens; every acknowledged write is there; the writes there are a prefix of those issued
  const before = new Map<string, Uint8Array>();
  {
    const a = new MemoryAdapter(vol);
    for (const f of await a.list()) before.set(f, await a.readAll(f));
  }
  let re: Store;
  try {
    re = await openStore(new MemoryAdapter(vol, { trackUnsynced: true }), opts);
  } catch (e) {
    assert.fail(`open after a power loss that lost only unsynced bytes: ${String(e)}`);
  }
  let present = 0;
  for (let i = 0; i < sizes.length; i++) {
    const v = await re.get(key(i));
    if (v === undefined) {
      assert.ok(!acked.has(i), `acknowledged write ${i} lost`);
      continue;
    }
    assert.deepEqual(v, value(i, sizes[i]!), `write ${i}: wrong value`);
    assert.equal(i, present, `write ${i} is there without write ${present} before it`);
    present++;
  }
  // the log goes on after the cut
  for (let i = 0; i < 3; i++) await re.put(key(sizes.length + i), value(sizes.length + i, 100));
  assert.ok((await re.verify()).ok, 'verify after recovery');
  await re.close();
  const again = await openStore(new MemoryAdapter(vol), opts);
  for (let i = 0; i < present; i++) assert.ok((await again.get(key(i))) !== undefined, `write ${i} lost at the second open`);
  await again.close();
  dropMemoryVolume(vol);

  // damage to a synced record (a later record's mark passes its end) of the crashed files: CORRUPTION
  // a fresh store crashed before its first WAL was listed (made after open() returns) has no manifest and nothing synced
  const mb = before.get(manifestName);
  if (mb === undefined) return;
  const m = decodeManifest(mb);
  const synced: { file: string; offset: number; end: number }[] = [];
  for (const w of m.wals) {
    const name = walName(w);
    const buf = before.get(name)!;
    const scan = scanWal(buf, name);
    const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    let mark = 0;
    for (const r of scan.records) mark = Math.max(mark, dv.getUint32(r.end - walMarkBytes, true));
    for (const r of scan.records) if (r.end <= mark) synced.push({ file: name, offset: r.offset, end: r.end });
  }
  if (synced.length === 0) return;
  const r = synced[Math.floor(c.flipRecord * synced.length)]!;
  const bad = new MemoryAdapter(`${vol}-bad`);
  for (const [f, bytes] of before) {
    const copy = bytes.slice();
    if (f === r.file) copy[r.offset + Math.floor(c.flipAt * (r.end - r.offset))]! ^= 0x10;
    await bad.replace(f, copy);
  }
  await assert.rejects(
    openStore(new MemoryAdapter(`${vol}-bad`), opts),
    (e) => isLargetableError(e, 'CORRUPTION') && (e as LargetableError).details['file'] === r.file && (e as LargetableError).details['offset'] === r.offset,
    `a flip in synced record at ${r.file}:${r.offset}`,
  );
  dropMemoryVolume(`${vol}-bad`);
}

describe('power loss keeping any subset of unsynced WAL pages', () => {
  it('opens without CORRUPTION, keeps every acknowledged write and no write without those before it; damage to synced records is CORRUPTION', async () => {
    await fc.assert(fc.asyncProperty(caseArb, runCase), { seed: Number(process.env['POWERLOSS_SEED'] ?? 5), numRuns: Number(process.env['POWERLOSS_RUNS'] ?? 150) });
  });

  it('a strict group of 64 inserts (~33 KB, 9 pages) whose first page is lost and later ones kept: opens, the group is dropped whole', async () => {
    const vol = 'powerloss-group';
    const opts: EngineOptions = { walPreallocate: true, autoCompact: false };
    let first: number | undefined;
    let crashed = false;
    const st = await openStore(new MemoryAdapter(vol, { trackUnsynced: true }), {
      ...opts,
      onEvent: (e) => {
        // the group's write is done, its sync not: the page holding its start is lost, the rest kept
        if (e !== 'wal-sync' || crashed || first === undefined) return;
        crashed = true;
        crashMemoryVolumeForTesting(vol, { keepUnsyncedPage: (_file, page) => page > first! });
      },
    });
    for (let i = 0; i < 10; i++) await st.put(key(i), value(i, 500));
    const wal = (await new MemoryAdapter(vol).list()).find((f) => f.endsWith('.wal'))!;
    const end = scanWal(await new MemoryAdapter(vol).readAll(wal), wal).validEnd;
    first = end - (end % 4096);
    const results = await Promise.all(Array.from({ length: 64 }, (_, j) => st.put(key(10 + j), value(10 + j, 500)).then(() => true, () => false)));
    assert.ok(crashed && results.every((x) => !x), 'the group failed with the crash');
    const after = await new MemoryAdapter(vol).readAll(wal);
    assert.ok(after.subarray(first + 8192, first + 8200).some((x) => x !== 0), 'later pages of the group were kept');
    const re = await openStore(new MemoryAdapter(vol), opts);
    assert.ok(re.recovery.tornTailBytesTruncated > 0);
    for (let i = 0; i < 10; i++) assert.deepEqual(await re.get(key(i)), value(i, 500));
    for (let j = 0; j < 64; j++) assert.equal(await re.get(key(10 + j)), undefined);
    await re.close();
    dropMemoryVolume(vol);
  });
});

describe('a WAL written before synced marks (version 4)', () => {
  /** The store's WALs rewritten as a version 4 build wrote them: records without their mark, resealed. */
  async function toVersion4(vol: string): Promise<Map<string, number[]>> {
    const a = new MemoryAdapter(vol);
    const ends = new Map<string, number[]>();
    for (const f of (await a.list()).filter((x) => x.endsWith('.wal'))) {
      const buf = await a.readAll(f);
      const bytes = buf.slice();
      bytes[4] = 4;
      const e: number[] = [];
      let at = 8;
      for (const r of scanWal(buf, f).records) {
        const rec = buf.slice(r.offset, r.end - walMarkBytes);
        new DataView(rec.buffer).setUint32(0, rec.length - 8, true);
        sealRecord(rec, r.seq);
        bytes.set(rec, at);
        at += rec.length;
        e.push(at);
      }
      await a.replace(f, bytes.slice(0, at));
      ends.set(f, e);
    }
    return ends;
  }

  it('recovers at open (its records replayed, new writes go to a version 5 WAL); a bad record followed by a valid one is CORRUPTION there', async () => {
    const vol = 'powerloss-v4';
    const opts: EngineOptions = { autoCompact: false };
    const st = await openStore(new MemoryAdapter(vol, { trackUnsynced: true }), opts);
    for (let i = 0; i < 20; i++) await st.put(key(i), value(i, 300));
    crashMemoryVolumeForTesting(vol);
    const ends = await toVersion4(vol);
    const before = new Map<string, Uint8Array>();
    for (const f of await new MemoryAdapter(vol).list()) before.set(f, await new MemoryAdapter(vol).readAll(f));
    const re = await openStore(new MemoryAdapter(vol), opts);
    assert.equal(re.recovery.walRecordsReplayed, 20);
    for (let i = 0; i < 20; i++) assert.deepEqual(await re.get(key(i)), value(i, 300));
    await re.put(key(20), value(20, 300));
    await re.close();
    const versions = [];
    for (const f of (await new MemoryAdapter(vol).list()).filter((x) => x.endsWith('.wal'))) versions.push((await new MemoryAdapter(vol).readAll(f))[4]);
    assert.deepEqual(versions, [4, 5]);
    dropMemoryVolume(vol);
    // the old rule: record 3 damaged, records after it valid
    const [wal, e] = [...ends][0]!;
    const bad = new MemoryAdapter('powerloss-v4-bad');
    for (const [f, bytes] of before) await bad.replace(f, f === wal ? bytes.map((x, i) => (i === e[2]! + 10 ? x ^ 1 : x)) : bytes);
    await assert.rejects(openStore(new MemoryAdapter('powerloss-v4-bad'), opts), (err) => isLargetableError(err, 'CORRUPTION') && (err as LargetableError).details['offset'] === e[2]);
    dropMemoryVolume('powerloss-v4-bad');
  });
});
