import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isLargetableError } from '../errors.ts';
import { Memtable, MemtablePool, NIL } from './memtable.ts';
import { applyRecord, decodeWalRecord, encodeBatch, scanWal, sealRecord, stampRecord, walHeader, walMarkBytes, walShareBytesMin, walTailBytesMin, walVersion } from './wal.ts';
import type { WriteOp } from './store.ts';

const b = (s: string): Uint8Array => new TextEncoder().encode(s);

/** `copied` holds the same keys, in order and found by key, with the same versions (seq, value) as `whole`. */
function assertSameMemtable(copied: Memtable, whole: Memtable): void {
  assert.equal(copied.count, whole.count);
  const versions = (m: Memtable, x: number): [number, Uint8Array | null][] => {
    const out: [number, Uint8Array | null][] = [];
    for (let v = m.newest(x); v !== NIL; v = m.older(v)) out.push([m.seq(v), m.value(v)]);
    return out;
  };
  for (let n = whole.first(), c = copied.first(); n !== NIL; n = whole.next(n), c = copied.next(c)) {
    assert.deepEqual(copied.key(c), whole.key(n));
    assert.equal(copied.find(whole.key(n)), c);
    assert.deepEqual(versions(copied, c), versions(whole, n));
  }
}

/**
 * A WAL of one record per batch, each written once the one before it was synced (its synced mark
 * is its own offset: sequential strict commits).
 */
function log(...batches: Uint8Array[][]): { buf: Uint8Array; ends: number[] } {
  const parts: Uint8Array[] = [walHeader()];
  let seq = 0;
  const ends: number[] = [];
  let len = 8;
  for (const keys of batches) {
    const rec = encodeBatch(keys.map((k) => ({ type: 'put', key: k, value: k })));
    sealRecord(rec, ++seq);
    stampRecord(rec, len);
    parts.push(rec);
    len += rec.length;
    ends.push(len);
  }
  const buf = new Uint8Array(len);
  let o = 0;
  for (const p of parts) {
    buf.set(p, o);
    o += p.length;
  }
  return { buf, ends };
}

describe('WAL records', () => {
  it('encode/seal/scan/apply round-trips a batch with puts, deletes and empty values', () => {
    const rec = encodeBatch([
      { type: 'put', key: b('a'), value: b('1') },
      { type: 'del', key: b('b') },
      { type: 'put', key: b('c'), value: new Uint8Array(0) },
      { type: 'put', key: new Uint8Array(300), value: new Uint8Array(200).fill(7) },
    ]);
    sealRecord(rec, 42);
    const buf = new Uint8Array(8 + rec.length);
    buf.set(walHeader());
    buf.set(rec, 8);
    const scan = scanWal(buf, 'w');
    assert.deepEqual(scan.records.map((r) => r.seq), [42]);
    assert.equal(scan.tornBytes, 0);
    const m = new Memtable();
    assert.equal(applyRecord(buf, scan.records[0]!.offset, scan.records[0]!.end, 42, m, 'w', 8), 4);
    const val = (k: Uint8Array): Uint8Array | null => m.value(m.newest(m.find(k)));
    assert.deepEqual(val(b('a')), b('1'));
    assert.equal(val(b('b')), null);
    assert.equal(val(b('c'))!.length, 0);
    assert.equal(val(new Uint8Array(300))![199], 7);
  });

  it('a record larger than the memtable copies whole is applied in copied runs: same versions, the record buffer not kept', () => {
    // chunks of 256 bytes: records over 64 bytes go in runs, ops over 64 bytes alone (copied)
    const pool = new MemtablePool(4096);
    const opArb = fc.tuple(fc.uint8Array({ minLength: 1, maxLength: 3, max: 3 }), fc.option(fc.oneof(fc.uint8Array({ maxLength: 20 }), fc.uint8Array({ minLength: 60, maxLength: 90 }))));
    fc.assert(
      fc.property(fc.array(fc.array(opArb, { minLength: 1, maxLength: 40 }), { minLength: 1, maxLength: 4 }), fc.boolean(), (batches, pooled) => {
        const copied = new Memtable(pooled ? pool : new MemtablePool(4096));
        const whole = new Memtable();
        const recs: Uint8Array[] = [];
        batches.forEach((ops, i) => {
          const rec = encodeBatch(ops.map(([k, v]) => (v === null ? { type: 'del', key: k } : { type: 'put', key: k, value: v })));
          sealRecord(rec, i + 1);
          assert.equal(applyRecord(rec, 0, rec.length, i + 1, copied, 'w', 0), ops.length);
          applyRecord(rec, 0, rec.length, i + 1, whole, 'w', 0, whole.addBuffer(rec.slice()));
          recs.push(rec);
        });
        for (const r of recs) r.fill(0xff); // a writer reusing its record buffers
        assertSameMemtable(copied, whole);
        copied.recycle(4096);
      }),
      { seed: 11, numRuns: 200 },
    );
  });

  it('a put whose value lies inside the previous full value is written once (op kind 2): same memtable versions, same decoded ops', () => {
    // items: a plain put/delete, or a put of a slice of the last long value (shared when long enough)
    const item = fc.oneof(
      fc.tuple(fc.constant(0), fc.uint8Array({ minLength: 1, maxLength: 3, max: 3 }), fc.option(fc.oneof(fc.uint8Array({ maxLength: 20 }), fc.uint8Array({ minLength: 40, maxLength: 90 })))),
      fc.tuple(fc.constant(1), fc.uint8Array({ minLength: 1, maxLength: 3, max: 3 }), fc.tuple(fc.nat(60), fc.integer({ min: 20, max: 90 }))),
    );
    fc.assert(
      fc.property(fc.array(fc.array(item, { minLength: 1, maxLength: 40 }), { minLength: 1, maxLength: 4 }), fc.boolean(), (batches, small) => {
        const copied = new Memtable(small ? new MemtablePool(4096) : null);
        const whole = new Memtable();
        const recs: Uint8Array[] = [];
        batches.forEach((items, i) => {
          let last: Uint8Array | undefined;
          let expectShared = 0;
          let plainSize = 20;
          const ops: WriteOp[] = items.map(([kind, k, x]) => {
            if (kind === 1 && last !== undefined) {
              const [from, len] = x as [number, number];
              const s = Math.min(from, last.length - 1);
              const v = last.subarray(s, Math.min(last.length, s + len));
              if (v.length >= walShareBytesMin) expectShared++;
              else if (v.length >= walShareBytesMin) last = v;
              plainSize += 1 + 1 + (v.length >= 128 ? 2 : 1) + k.length + v.length;
              return { type: 'put', key: k, value: v };
            }
            const v = kind === 0 ? (x as Uint8Array | null) : new Uint8Array(50).fill(i);
            if (v === null) {
              plainSize += 2 + k.length;
              return { type: 'del', key: k };
            }
            // a long value in a larger buffer, as views of shared memory are
            const big = new Uint8Array(v.length + 8);
            big.set(v, 4);
            const view = big.subarray(4, 4 + v.length);
            if (view.length >= walShareBytesMin) last = view;
            plainSize += 1 + 1 + (v.length >= 128 ? 2 : 1) + k.length + v.length;
            return { type: 'put', key: k, value: view };
          });
          const rec = encodeBatch(ops);
          sealRecord(rec, i + 1);
          let kind2 = 0;
          for (let p = 20, j = 0; j < ops.length; j++) {
            const op = ops[j]!;
            const kl = op.key.length;
            if (rec[p] === 2) kind2++;
            if (op.type === 'del') p += 2 + kl;
            else if (rec[p] === 2) p += 1 + 1 + 1 + (rec[p + 3]! >= 0x80 ? 2 : 1) + kl;
            else p += 2 + (op.value.length >= 128 ? 2 : 1) + kl + op.value.length;
          }
          assert.equal(kind2, expectShared);
          if (expectShared > 0) assert.ok(rec.length < plainSize + 8, 'shared values make the record shorter');
          // decoded ops: the same keys and values
          const d = decodeWalRecord(rec);
          assert.equal(d.ops.length, ops.length);
          d.ops.forEach((op, j) => {
            assert.equal(op.type, ops[j]!.type);
            assert.deepEqual(op.key, ops[j]!.key);
            if (op.type === 'put') assert.deepEqual(op.value, (ops[j] as { value: Uint8Array }).value.slice());
          });
          assert.equal(applyRecord(rec, 0, rec.length, i + 1, copied, 'w', 0), ops.length);
          applyRecord(rec, 0, rec.length, i + 1, whole, 'w', 0, whole.addBuffer(rec.slice()));
          recs.push(rec);
        });
        for (const r of recs) r.fill(0xff);
        assertSameMemtable(copied, whole);
      }),
      { seed: 12, numRuns: 300 },
    );
  });

  it('a put whose value is the tail of its own key is written once (op kind 3): same memtable versions, same decoded ops', () => {
    const item = fc.tuple(fc.uint8Array({ minLength: 1, maxLength: 40, max: 4 }), fc.oneof(fc.constant(null), fc.nat(40), fc.uint8Array({ maxLength: 30, max: 4 })));
    fc.assert(
      fc.property(fc.array(fc.array(item, { minLength: 1, maxLength: 30 }), { minLength: 1, maxLength: 3 }), fc.boolean(), (batches, small) => {
        const copied = new Memtable(small ? new MemtablePool(4096) : null);
        const whole = new Memtable();
        batches.forEach((items, i) => {
          let expectTail = 0;
          const ops: WriteOp[] = items.map(([k, x]) => {
            if (x === null) return { type: 'del', key: k };
            // a tail of the key (a copy, as an index entry's value is), or other bytes
            const v = typeof x === 'number' ? k.slice(k.length - Math.min(x, k.length)) : x;
            let tail = v.length >= walTailBytesMin && v.length <= k.length;
            for (let j = 0; tail && j < v.length; j++) if (v[j] !== k[k.length - v.length + j]) tail = false;
            if (tail) expectTail++;
            return { type: 'put', key: k, value: v };
          });
          const rec = encodeBatch(ops);
          sealRecord(rec, i + 1);
          let kind3 = 0;
          let plain = 20 + walMarkBytes;
          for (const op of ops) plain += 3 + op.key.length + (op.type === 'put' ? op.value.length : -1);
          for (let p = 20, j = 0; j < ops.length; j++) {
            const op = ops[j]!;
            if (rec[p] === 3) {
              kind3++;
              p += 3 + op.key.length;
            } else p += op.type === 'del' ? 2 + op.key.length : 3 + op.key.length + op.value.length;
          }
          assert.equal(kind3, expectTail);
          assert.equal(rec.length, plain - ops.reduce((n, op, j) => n + (rec.length && op.type === 'put' && isTailOf(op) ? op.value.length : 0), 0));
          const d = decodeWalRecord(rec);
          d.ops.forEach((op, j) => {
            assert.equal(op.type, ops[j]!.type);
            assert.deepEqual(op.key, ops[j]!.key);
            if (op.type === 'put') assert.deepEqual(op.value, (ops[j] as { value: Uint8Array }).value);
          });
          applyRecord(rec, 0, rec.length, i + 1, copied, 'w', 0);
          applyRecord(rec, 0, rec.length, i + 1, whole, 'w', 0, whole.addBuffer(rec.slice()));
          rec.fill(0xff);
        });
        assertSameMemtable(copied, whole);
      }),
      { seed: 13, numRuns: 300 },
    );
    // a kind-3 op claiming more value than its key has is CORRUPTION
    const rec = encodeBatch([{ type: 'put', key: b('abcdef'), value: b('cdef') }]);
    assert.equal(rec[20], 3);
    rec[22] = 7; // valueLen 7 > keyLen 6
    sealRecord(rec, 1);
    assert.throws(() => applyRecord(rec, 0, rec.length, 1, new Memtable(), 'w', 0), (e) => isLargetableError(e, 'CORRUPTION'));
    assert.throws(() => decodeWalRecord(rec), (e) => isLargetableError(e, 'CORRUPTION'));
  });

  it('a shared value spanning two copied runs is copied on its own; one pointing outside the record is CORRUPTION', () => {
    // hand-made record: two puts of 40-byte values, then a kind-2 put of 60 bytes from the middle of the first value into the second op
    const v1 = new Uint8Array(40).fill(1);
    const v2 = new Uint8Array(40).fill(2);
    const rec = encodeBatch([
      { type: 'put', key: b('a'), value: v1 },
      { type: 'put', key: b('b'), value: v2 },
    ]);
    // op 1 at 20: 01 01 28 'a' v1 (44 bytes), op 2 at 64: 01 01 28 'b' v2 (44 bytes), op 3 at 108, then the (zero) synced mark
    const opsEnd = rec.length - walMarkBytes;
    const out = new Uint8Array(rec.length + 5);
    out.set(rec.subarray(0, opsEnd));
    out.set([2, 1, 60, 108 - 44, 0x63], opsEnd); // back 64: from offset 44 (v1[20]) to 104
    new DataView(out.buffer).setUint32(0, out.length - 8, true);
    new DataView(out.buffer).setUint32(16, 3, true);
    sealRecord(out, 1);
    const expected = out.slice(44, 104);
    for (const pool of [new MemtablePool(4096), null]) {
      const m = new Memtable(pool);
      assert.equal(applyRecord(out, 0, out.length, 1, m, 'w', 0), 3);
      const copy = out.slice();
      out.fill(0xff, 8);
      assert.deepEqual(m.value(m.newest(m.find(b('c')))), expected);
      assert.deepEqual(m.value(m.newest(m.find(b('a')))), v1);
      out.set(copy);
    }
    assert.deepEqual((decodeWalRecord(out).ops[2] as { value: Uint8Array }).value, expected);
    for (const back of [1, 108 - 19, 200]) {
      const bad = out.slice();
      bad[opsEnd + 3] = back;
      sealRecord(bad, 1);
      assert.throws(() => applyRecord(bad, 0, bad.length, 1, new Memtable(), 'w', 0), (e) => isLargetableError(e, 'CORRUPTION'), `back ${back}`);
      assert.throws(() => decodeWalRecord(bad), (e) => isLargetableError(e, 'CORRUPTION'), `back ${back}`);
    }
  });

  it('a torn tail (any cut inside the last record) is reported, earlier records survive', () => {
    const { buf, ends } = log([b('x'), b('y')], [b('z')], [b('w'), b('v')]);
    // (a cut in the zero bytes the last record ends with, its synced mark's high bytes, loses nothing)
    for (let cut = ends[1]! + 1; cut < lastNonZero(buf); cut++) {
      const scan = scanWal(buf.subarray(0, cut), 'w');
      assert.equal(scan.records.length, 2, `cut ${cut}`);
      assert.equal(scan.validEnd, ends[1]);
      // torn bytes run to the last non-zero byte; zeros after it read as never written
      let nz = cut;
      while (nz > ends[1]! && buf[nz - 1] === 0) nz--;
      assert.equal(scan.tornBytes, nz - ends[1]!);
      assert.equal(scan.tornBytes + scan.zeroBytes, cut - ends[1]!);
      assert.ok(scan.tornBytes > 0 || cut - ends[1]! < 4, `cut ${cut}: a record's length is not zero`);
    }
  });

  it('a damaged record followed by valid ones is CORRUPTION naming file and offset', () => {
    const { buf, ends } = log([b('x')], [b('y')], [b('z')]);
    const bad = buf.slice();
    bad[ends[0]! + 12]! ^= 0x10; // inside record 2
    assert.throws(() => scanWal(bad, 'the.wal'), (e) => isLargetableError(e, 'CORRUPTION') && e.details['file'] === 'the.wal' && e.details['offset'] === ends[0]);
  });

  it('reads WALs of versions 2 (before shared values) to 5, refuses older and newer ones', () => {
    const { buf } = log([b('x')]);
    assert.equal(buf[4], 5);
    assert.equal(walVersion, 5);
    const old = unmarked(log([b('x')], [b('y')], [b('z')]));
    for (const v of [2, 3, 4]) {
      old.buf[4] = v;
      assert.deepEqual(scanWal(old.buf, 'w').records.map((r) => r.seq), [1, 2, 3]);
    }
    for (const v of [1, 6]) {
      const other = buf.slice();
      other[4] = v;
      assert.throws(
        () => scanWal(other, 'w'),
        (e) => isLargetableError(e, 'UNSUPPORTED_FORMAT') && e.details['offset'] === 4 && /version [16] .*reads 2 to 5/.test(e.message),
      );
    }
  });

  it('a bad record followed only by records whose synced mark does not pass it is a torn tail (version 5); before version 5 any valid record after it is CORRUPTION', () => {
    // records 2 and 3 written in one write after record 1 was synced: both carry record 2's offset... 
    const parts = [[b('x')], [b('y')], [b('z')]];
    const { buf, ends } = log(...parts);
    const group = buf.slice();
    const rec3 = group.subarray(ends[1]!, ends[2]!);
    stampRecord(rec3, ends[0]!); // ...so record 3's mark is record 2's offset, not its own
    const lost = group.slice();
    lost.fill(0, ends[0]!, ends[0]! + 5); // record 2's first page lost, record 3's kept
    const scan = scanWal(lost, 'w');
    assert.deepEqual(scan.records.map((r) => r.seq), [1]);
    assert.equal(scan.validEnd, ends[0]);
    assert.equal(scan.tornBytes, lastNonZero(lost) - ends[0]!, 'record 3, valid but never acknowledged, is torn tail too');
    // the same loss where record 3 was written after record 2 was synced: record 2's bytes were synced
    const synced = buf.slice();
    synced.fill(0, ends[0]!, ends[0]! + 5);
    assert.throws(() => scanWal(synced, 'w.wal'), (e) => isLargetableError(e, 'CORRUPTION') && e.details['offset'] === ends[0]);
    // version 4 (no marks): the old rule, any valid record after a bad one is CORRUPTION
    const v4 = unmarked(log(...parts));
    v4.buf.fill(0, v4.ends[0]!, v4.ends[0]! + 5);
    v4.buf[4] = 4;
    assert.throws(() => scanWal(v4.buf, 'w.wal'), (e) => isLargetableError(e, 'CORRUPTION') && e.details['offset'] === v4.ends[0]);
    // the mark is covered by the checksum: a record whose mark was changed is not a valid one
    const forged = lost.slice();
    forged[ends[2]! - walMarkBytes]! ^= 0x40;
    assert.equal(scanWal(forged, 'w').validEnd, ends[0]);
    // a record claiming a mark past its own start is not a valid record
    const ahead = buf.slice();
    stampRecord(ahead.subarray(ends[1]!, ends[2]!), ends[1]! + 1);
    assert.equal(scanWal(ahead, 'w').records.length, 2);
  });

  it('several writes in flight, a crash keeping any subset of their unsynced pages: a prefix of the records, every synced one; a flip before a later mark is CORRUPTION', () => {
    // each write: records of random ops; at most `inFlight` writes issued and not yet synced; a
    // record's mark is the end of the last write whose sync completed when its write was issued
    const page = 64;
    const writeArb = fc.array(fc.array(fc.uint8Array({ minLength: 1, maxLength: 200 }), { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 4 });
    fc.assert(
      fc.property(
        fc.array(writeArb, { minLength: 1, maxLength: 8 }),
        fc.integer({ min: 1, max: 3 }),
        fc.array(fc.boolean(), { maxLength: 24 }),
        fc.uint8Array({ minLength: 64, maxLength: 64 }),
        fc.double({ min: 0, max: 0.999, noNaN: true }),
        (writes, inFlight, steps, kept, flipAt) => {
          const buf = new Uint8Array(64 * 1024);
          buf.set(walHeader());
          const image = buf.slice(); // what survives: synced bytes plus the kept pages
          const all: { offset: number; end: number; seq: number }[] = [];
          let end = 8;
          let syncedEnd = 8;
          let seq = 0;
          const pending: number[] = []; // ends of writes issued, not synced, oldest first
          let w = 0;
          let s = 0;
          // issue (steps[i] true, room left) or complete the oldest sync, until the steps run out (the crash)
          while (s < steps.length && (w < writes.length || pending.length > 0)) {
            const issue = w < writes.length && pending.length < inFlight && (steps[s++]! || pending.length === 0);
            if (issue) {
              for (const keys of writes[w++]!) {
                const rec = encodeBatch(keys.map((k) => ({ type: 'put', key: k, value: k })));
                sealRecord(rec, ++seq);
                stampRecord(rec, syncedEnd);
                buf.set(rec, end);
                all.push({ offset: end, end: end + rec.length, seq });
                end += rec.length;
              }
              pending.push(end);
            } else {
              syncedEnd = pending.shift()!;
              image.set(buf.subarray(0, syncedEnd));
              s++;
            }
          }
          // the crash: each page of unsynced bytes kept or not
          for (let pg = syncedEnd - (syncedEnd % page), i = 0; pg < end; pg += page, i++) {
            if (kept[i % kept.length]! < 128) continue;
            const from = Math.max(pg, syncedEnd);
            image.set(buf.subarray(from, Math.min(pg + page, end)), from);
          }
          const scan = scanWal(image, 'w');
          assert.ok(scan.validEnd >= syncedEnd, 'every synced record is read');
          const expected = all.filter((r) => r.end <= scan.validEnd);
          assert.deepEqual(scan.records, expected, 'the records read are a prefix of those written');
          // a flip before the highest mark a record read carries: CORRUPTION
          const dv = new DataView(image.buffer);
          let mark = 0;
          for (const r of scan.records) mark = Math.max(mark, dv.getUint32(r.end - walMarkBytes, true));
          if (mark <= 8) return;
          const at = 8 + Math.floor(flipAt * (mark - 8));
          const bad = image.slice();
          bad[at]! ^= 0x10;
          const r = all.find((x) => x.offset <= at && at < x.end)!;
          assert.throws(() => scanWal(bad, 'w'), (e) => isLargetableError(e, 'CORRUPTION') && e.details['offset'] === r.offset);
        },
      ),
      { seed: 22, numRuns: 400 },
    );
  });

  it('stampRecord keeps the checksum right for any mark, set any number of times', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 60 }), fc.array(fc.nat(), { minLength: 1, maxLength: 4 }), (v, marks) => {
        const rec = encodeBatch([{ type: 'put', key: b('k'), value: v }]);
        sealRecord(rec, 3);
        for (const m of marks) stampRecord(rec, m * 3 + (m % 7) * 0x100000000);
        const fresh = rec.slice();
        fresh.fill(0, fresh.length - walMarkBytes);
        new DataView(fresh.buffer).setUint32(4, 0);
        sealRecord(fresh, 3);
        stampRecord(fresh, marks[marks.length - 1]! * 3 + (marks[marks.length - 1]! % 7) * 0x100000000);
        assert.deepEqual(rec, fresh);
        assert.equal(decodeWalRecord(rec).seq, 3n);
      }),
      { seed: 21, numRuns: 200 },
    );
  });

  it('a zero-filled (preallocated) tail is the end of the log, not a torn write', () => {
    const { buf, ends } = log([b('x'), b('y')], [b('z')]);
    for (const zeros of [1, 7, 8, 19, 20, 4096]) {
      const pre = new Uint8Array(buf.length + zeros);
      pre.set(buf);
      const scan = scanWal(pre, 'w');
      assert.equal(scan.records.length, 2);
      assert.equal(scan.validEnd, ends[1]);
      assert.equal(scan.tornBytes, 0);
      assert.equal(scan.zeroBytes, zeros);
    }
    // a header alone followed by zeros: an empty log
    const empty = new Uint8Array(8 + 100);
    empty.set(walHeader());
    assert.deepEqual({ ...scanWal(empty, 'w'), records: [] }, { records: [], validEnd: 8, tornBytes: 0, zeroBytes: 100 });
  });

  it('a torn write inside the preallocated tail: torn bytes up to the last non-zero byte, zeros after', () => {
    const { buf, ends } = log([b('x'), b('y')], [b('z')], [b('w'), b('v')]);
    const zeros = 64;
    for (let cut = ends[1]! + 1; cut < lastNonZero(buf); cut++) {
      // the record's prefix landed, the rest of the preallocated space is still zero
      const pre = new Uint8Array(buf.length + zeros);
      pre.set(buf.subarray(0, cut));
      const scan = scanWal(pre, 'w');
      let nz = cut;
      while (nz > ends[1]! && pre[nz - 1] === 0) nz--;
      assert.equal(scan.records.length, 2, `cut ${cut}`);
      assert.equal(scan.validEnd, ends[1]);
      assert.equal(scan.tornBytes, nz - ends[1]!, `cut ${cut}`);
      assert.equal(scan.zeroBytes, pre.length - nz);
      // a later sector landed without the earlier one (zeros inside the record)
      const holey = new Uint8Array(buf.length + zeros);
      holey.set(buf.subarray(0, ends[1]!));
      holey.set(buf.subarray(cut, buf.length), cut);
      const h = scanWal(holey, 'w');
      assert.equal(h.records.length, 2, `hole to ${cut}`);
      assert.equal(h.validEnd, ends[1]);
    }
  });

  it('a bit flip in the zero tail after the last record is a torn tail; zeros then a valid record is CORRUPTION', () => {
    const { buf, ends } = log([b('x')], [b('y')]);
    const pre = new Uint8Array(buf.length + 200);
    pre.set(buf);
    for (const off of [buf.length, buf.length + 1, buf.length + 99, pre.length - 1]) {
      const flipped = pre.slice();
      flipped[off]! ^= 0x20;
      const scan = scanWal(flipped, 'w');
      assert.equal(scan.records.length, 2);
      assert.equal(scan.tornBytes, off + 1 - buf.length);
      assert.equal(scan.zeroBytes, pre.length - off - 1);
    }
    // record 1 zeroed (never written?) but record 2 is there: damage, not the end of the log
    const gap = pre.slice();
    gap.fill(0, 8, ends[0]);
    assert.throws(() => scanWal(gap, 'the.wal'), (e) => isLargetableError(e, 'CORRUPTION') && e.details['offset'] === 8);
  });

  it('validates ops', () => {
    assert.throws(() => encodeBatch([{ type: 'put', key: 'k' as unknown as Uint8Array, value: b('') }]), (e) => isLargetableError(e, 'INVALID_ARGUMENT'));
    assert.throws(() => encodeBatch([{ type: 'put', key: b('k'), value: new Uint8Array(16 * 1024 * 1024 + 1) }]), (e) => isLargetableError(e, 'LIMIT_EXCEEDED'));
  });
});

/** One past the last non-zero byte of `buf`. */
function lastNonZero(buf: Uint8Array): number {
  let n = buf.length;
  while (n > 0 && buf[n - 1] === 0) n--;
  return n;
}

/** The log's records as a version 4 build wrote them: no synced mark (resealed). */
function unmarked(l: { buf: Uint8Array; ends: number[] }): { buf: Uint8Array; ends: number[] } {
  const out = new Uint8Array(l.buf.length - l.ends.length * walMarkBytes);
  out.set(l.buf.subarray(0, 8));
  const ends: number[] = [];
  let from = 8;
  let o = 8;
  for (const end of l.ends) {
    const rec = l.buf.slice(from, end - walMarkBytes);
    new DataView(rec.buffer).setUint32(0, rec.length - 8, true);
    sealRecord(rec, Number(decodeWalRecord(l.buf.subarray(from, end)).seq));
    out.set(rec, o);
    o += rec.length;
    ends.push(o);
    from = end;
  }
  return { buf: out, ends };
}

function isTailOf(op: { key: Uint8Array; value: Uint8Array }): boolean {
  const { key: k, value: v } = op;
  if (v.length < walTailBytesMin || v.length > k.length) return false;
  for (let j = 0; j < v.length; j++) if (v[j] !== k[k.length - v.length + j]) return false;
  return true;
}
