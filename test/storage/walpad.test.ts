/**
 * The WAL's preallocated zeros: a write that passes them carries the next chunk, gathered with its
 * records in the engine's reused coalesce buffer. That buffer also carries the chunks of large
 * writes of many records; whatever it held before, the zeros a later write carries must be zeros
 * (else recovery would read old records' bytes past the log's end). With spare WALs (the default),
 * such writes go to the next WAL's zeros instead: every WAL's bytes past its records are zeros too.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { crashMemoryVolumeForTesting, dropMemoryVolume, MemoryAdapter } from '../../platform/memory.ts';
import { openStore, type EngineOptions } from '../../src/storage/index.ts';
import { scanWal } from '../../src/storage/wal.ts';

const te = new TextEncoder();
const key = (s: string): Uint8Array => te.encode(s);

describe('WAL preallocation: the zeros a write carries', () => {
  it('are zeros after the reused buffer carried large writes of many records, across rotations, and every record is recovered', () => run(false));
  it('with spare WALs: every WAL holds zeros only past its records, and every record is recovered', () => run(true));
});

async function run(spare: boolean): Promise<void> {
  {
    const vol = `walpad-${spare}`;
    const opts: EngineOptions = { walPreallocate: true, walSpare: spare, autoCompact: false };
    let st = await openStore(new MemoryAdapter(vol, { trackUnsynced: true }), opts);
    const expected = new Map<string, number>();
    let n = 0;
    const put = (strict: boolean, size: number): Promise<unknown> => {
      const k = `k${String(n++).padStart(6, '0')}`;
      const v = new Uint8Array(size).fill((n % 250) + 1); // never zero: a stale byte shows
      expected.set(k, v.length);
      return st.write([{ type: 'put', key: key(k), value: v }], { durability: strict ? 'strict' : 'relaxed' });
    };
    for (let round = 0; round < 3; round++) {
      // relaxed records acknowledged from memory, more than the reused buffer holds: the strict
      // write after them writes them in chunks through it (it is full of record bytes then)
      const relaxed: Promise<unknown>[] = [];
      for (let i = 0; i < 160; i++) relaxed.push(put(false, 9000));
      await Promise.all([...relaxed, put(true, 100)]);
      // a new WAL (its preallocation starts small again), then small strict commits that pass
      // its preallocated zeros several times: each carries zeros gathered in the buffer
      await st.flush();
      for (let i = 0; i < 900; i++) await put(true, 700);
    }
    // crashed, not closed: the open WAL stays, to be read at recovery
    crashMemoryVolumeForTesting(vol);
    const a = new MemoryAdapter(vol);
    let wals = 0;
    for (const f of await a.list()) {
      if (!f.endsWith('.wal')) continue;
      wals++;
      const bytes = await a.readAll(f);
      const scan = scanWal(bytes, f);
      // records in sequence order up to the log's end, then zeros only (a stale copy of an older
      // record is a valid record too: its sequence number gives it away)
      for (let i = 1; i < scan.records.length; i++) assert.ok(scan.records[i]!.seq > scan.records[i - 1]!.seq, `${f}: record ${i} out of order`);
      assert.equal(scan.tornBytes, 0, `${f}: non-zero bytes past its last record`);
      for (let i = scan.validEnd; i < bytes.length; i++) if (bytes[i] !== 0) assert.fail(`${f}: byte ${i} past the log's end is ${bytes[i]}`);
      // without spares every WAL carried chunks of zeros (the last one written before a rotation)
      if (!spare) assert.ok(bytes.length - scan.validEnd > 100_000, `${f}: preallocated zeros past the log's end`);
    }
    // with spares the 900 small commits after each rotation filled more than one WAL
    assert.ok(spare ? wals > 2 : wals > 0, `${wals} WALs`);
    st = await openStore(new MemoryAdapter(vol), opts);
    let seen = 0;
    for await (const [k, v] of st.iterate()) {
      assert.equal(v.length, expected.get(new TextDecoder().decode(k)));
      seen++;
    }
    assert.equal(seen, expected.size);
    await st.close();
    dropMemoryVolume(vol);
  }
}
