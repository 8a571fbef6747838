/**
 * Corruption: bit flips and truncations in every file type (manifest, segment, WAL) are
 * detected and named (file + offset), never a silently wrong answer. Bytes the manifest records
 * as synced (a closed or rotated WAL) must be valid: damage there is CORRUPTION. Only in the WAL
 * that was open at a crash may damage of the LAST record read as a torn write (truncated and
 * reported in `store.recovery`); a bad record followed by a record written once it was synced (its
 * synced mark passes the bad one: here every record, each a strict commit of its own) is CORRUPTION.
 * (Power loss keeping a later page of an unsynced write without an earlier one: powerloss.test.ts.)
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { crashMemoryVolumeForTesting, dropMemoryVolume, MemoryAdapter } from '../../platform/memory.ts';
import { isLargetableError, type LargetableError } from '../../src/errors.ts';
import { openStore, type EngineOptions } from '../../src/storage/index.ts';
import type { Store } from '../../src/storage/store.ts';
import { scanWal } from '../../src/storage/wal.ts';

const te = new TextEncoder();
const td = new TextDecoder();
const b = (s: string): Uint8Array => te.encode(s);
const baseOpts: EngineOptions = { memtableSizeBytes: 4096, blockSizeBytes: 512, segmentSizeBytes: 4096, autoCompact: false };
// every case twice: WAL records appended, and written in place into a preallocated (zero-filled) WAL

async function dump(st: Store): Promise<string> {
  const out: string[] = [];
  for await (const [k, v] of st.iterate()) out.push(`${td.decode(k)}=${td.decode(v)}`);
  return out.join(',');
}

let n = 0;
/** Builds a store with every file type; `crash`: the volume crashes instead of closing. */
async function build(opts: EngineOptions, crash = false): Promise<{ files: Map<string, Uint8Array>; expected: string }> {
  const vol = `corrupt-src-${++n}`;
  const st = await openStore(new MemoryAdapter(vol, { trackUnsynced: crash }), opts);
  for (let j = 0; j < 4; j++)
    await st.write(Array.from({ length: 60 }, (_, i) => ({ type: 'put' as const, key: b(`a${j}-${String(i).padStart(3, '0')}`), value: b(`value-${j}-${i}-`.repeat(3)) })));
  await st.flush();
  await st.compact(); // L1
  for (let i = 0; i < 40; i++) await st.put(b(`l0-${String(i).padStart(3, '0')}`), b(`zz${i}`.repeat(5)));
  await st.del(b('a1-010'));
  await st.flush(); // L0
  for (let i = 0; i < 6; i++) await st.write([{ type: 'put', key: b(`w${i}`), value: b(`wal${i}`) }, { type: 'del', key: b(`a2-00${i}`) }]); // WAL only
  const expected = await dump(st);
  if (crash) crashMemoryVolumeForTesting(vol);
  else await st.close();
  const a = new MemoryAdapter(vol);
  const files = new Map<string, Uint8Array>();
  for (const f of await a.list()) files.set(f, await a.readAll(f));
  dropMemoryVolume(vol);
  return { files, expected };
}

type Verdict = 'detected' | 'torn-tail' | 'intact';

/** Opens a copy of `files` with one file replaced and classifies what the store says. */
async function check(opts: EngineOptions, files: Map<string, Uint8Array>, name: string, bytes: Uint8Array, expected: string): Promise<Verdict> {
  const vol = `corrupt-${++n}`;
  const a = new MemoryAdapter(vol);
  for (const [f, content] of files) await a.replace(f, f === name ? bytes : content);
  const named = (e: unknown): boolean => {
    assert.ok(isLargetableError(e), `not a LargetableError: ${String(e)}`);
    const err = e as LargetableError;
    assert.ok(err.code === 'CORRUPTION' || err.code === 'UNSUPPORTED_FORMAT', `${name}: unexpected ${err.code}: ${err.message}`);
    assert.equal(err.details['file'], name, `error names the damaged file: ${err.message}`);
    assert.equal(typeof err.details['offset'], 'number', `error names an offset: ${err.message}`);
    return true;
  };
  let st: Store;
  try {
    st = await openStore(a, opts);
  } catch (e) {
    named(e);
    dropMemoryVolume(vol);
    return 'detected';
  }
  try {
    const rep = await st.verify();
    if (!rep.ok) {
      assert.ok(rep.errors.some((x) => x.file === name && x.offset >= 0), `verify names ${name}: ${JSON.stringify(rep.errors)}`);
      return 'detected';
    }
    let got: string;
    try {
      got = await dump(st);
    } catch (e) {
      named(e);
      return 'detected';
    }
    if (st.recovery.tornTailBytesTruncated > 0) {
      assert.equal(st.recovery.tornTailFile, name);
      // the surviving state is a prefix of the batches: every listed pair is a true pair
      const exp = new Set(expected.split(','));
      for (const kv of got.split(',')) if (kv !== '') assert.ok(exp.has(kv) || /^a2-00\d=/.test(kv), `wrong pair after torn tail: ${kv}`);
      return 'torn-tail';
    }
    assert.equal(got, expected, `${name}: damage went undetected and the answer is wrong`);
    return 'intact';
  } finally {
    await st.close().catch(() => undefined);
    dropMemoryVolume(vol);
  }
}

function offsetsFor(len: number, count: number): number[] {
  const set = new Set<number>();
  for (let i = 0; i < Math.min(len, 24); i++) set.add(i);
  for (let i = Math.max(0, len - 48); i < len; i++) set.add(i);
  for (let i = 0; i < count; i++) set.add(Math.floor((i * 7919) % len));
  return [...set].sort((x, y) => x - y);
}

for (const prealloc of [false, true]) {
const mode = prealloc ? 'preallocated WAL' : 'appended WAL';
const opts: EngineOptions = { ...baseOpts, walPreallocate: prealloc };

describe(`corruption is detected and named (${mode})`, async () => {
  const { files, expected } = await build(opts);
  const kinds = {
    manifest: [...files.keys()].filter((f) => f === 'MANIFEST'),
    segment: [...files.keys()].filter((f) => f.endsWith('.seg')),
    wal: [...files.keys()].filter((f) => f.endsWith('.wal') && files.get(f)!.length > 8),
  };

  it('the fixture has every file type', () => {
    assert.equal(kinds.manifest.length, 1);
    assert.ok(kinds.segment.length >= 2, [...files.keys()].join(' '));
    assert.ok(kinds.wal.length >= 1, [...files.keys()].join(' '));
  });

  for (const [kind, names] of Object.entries(kinds)) {
    it(`bit flips in ${kind} files`, async () => {
      const tally: Record<Verdict, number> = { detected: 0, 'torn-tail': 0, intact: 0 };
      for (const name of names) {
        const orig = files.get(name)!;
        for (const off of offsetsFor(orig.length, kind === 'manifest' ? orig.length : 80)) {
          const bytes = orig.slice();
          bytes[off]! ^= 1 << (off % 8);
          tally[await check(opts, files, name, bytes, expected)]++;
        }
      }
      // a flipped bit is never silently accepted, and never dropped as a torn tail: the store was
      // closed, so the manifest records every WAL's synced size
      assert.equal(tally.intact, 0, JSON.stringify(tally));
      assert.equal(tally['torn-tail'], 0, JSON.stringify(tally));
      assert.ok(tally.detected > 0, JSON.stringify(tally));
    });

    it(`truncations of ${kind} files`, async () => {
      for (const name of names) {
        const orig = files.get(name)!;
        for (const len of [0, 1, 7, 8, 9, Math.floor(orig.length / 3), Math.floor(orig.length / 2) + 3, orig.length - 1]) {
          if (len < 0 || len >= orig.length) continue;
          const v = await check(opts, files, name, orig.slice(0, len), expected);
          assert.equal(v, 'detected', `${name} truncated to ${len}`);
        }
      }
    });
  }

  it('a flipped bit in the last record of a closed WAL is CORRUPTION, not a torn tail', async () => {
    const name = kinds.wal[kinds.wal.length - 1]!;
    const orig = files.get(name)!;
    const last = scanWal(orig, name).records.at(-1)!;
    for (const off of [last.offset + 2, last.offset + 5, last.end - 2, last.end - 1]) {
      const bytes = orig.slice();
      bytes[off]! ^= 1;
      assert.equal(await check(opts, files, name, bytes, expected), 'detected', `flip at ${off}`);
    }
  });
});

describe(`the WAL open at a crash: only its last record may be a torn tail (${mode})`, async () => {
  const { files, expected } = await build(opts, true);
  // the open WAL is the newest one; the manifest records no size for it
  const walNames = [...files.keys()].filter((f) => f.endsWith('.wal')).sort();
  const name = walNames[walNames.length - 1]!;
  const orig = files.get(name)!;
  const recs = scanWal(orig, name).records;

  it('the fixture WAL holds several records (and a preallocated zero tail when preallocated)', () => {
    assert.ok(recs.length >= 3, `${recs.length} records`);
    assert.equal(scanWal(orig, name).zeroBytes > 0, prealloc);
  });

  it('damage before the last record is detected; in the last record it is a reported torn tail', async () => {
    const last = recs[recs.length - 1]!;
    const tally: Record<Verdict, number> = { detected: 0, 'torn-tail': 0, intact: 0 };
    for (const off of offsetsFor(orig.length, 60)) {
      const bytes = orig.slice();
      bytes[off]! ^= 1 << (off % 8);
      const v = await check(opts, files, name, bytes, expected);
      tally[v]++;
      if (off < last.offset) assert.equal(v, 'detected', `flip at ${off} (last record starts at ${last.offset})`);
      else assert.ok(v === 'detected' || v === 'torn-tail', `flip at ${off}: ${v}`);
    }
    assert.ok(tally['torn-tail'] > 0 && tally.detected > 0, JSON.stringify(tally));
  });

  it('a truncation inside the last record is truncated and reported', async () => {
    const last = recs[recs.length - 1]!;
    for (const len of [last.offset + 1, last.offset + 9, last.end - 1]) {
      assert.equal(await check(opts, files, name, orig.slice(0, len), expected), 'torn-tail', `truncated to ${len}`);
    }
  });
});

describe(`verify() applies the durable-mark rule to the live WAL (${mode})`, () => {
  it('a flipped bit in the last acknowledged record of the current WAL is reported', async () => {
    const vol = `corrupt-live-${++n}`;
    const st = await openStore(new MemoryAdapter(vol), opts);
    try {
      for (let i = 0; i < 5; i++) await st.put(b(`k${i}`), b(`v${i}`));
      assert.ok((await st.verify()).ok);
      const wal = (await st.adapter.list()).filter((f) => f.endsWith('.wal')).sort().at(-1)!;
      const bytes = await st.adapter.readAll(wal);
      bytes[scanWal(bytes, wal).records.at(-1)!.end - 1]! ^= 4;
      await st.adapter.replace(wal, bytes);
      const rep = await st.verify();
      assert.equal(rep.ok, false);
      assert.ok(rep.errors.some((e) => e.file === wal && e.offset > 8), JSON.stringify(rep.errors));
    } finally {
      await st.close().catch(() => undefined);
      dropMemoryVolume(vol);
    }
  });
});
}
