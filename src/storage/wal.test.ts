import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isLargetableError } from '../errors.ts';
import { Memtable, MemtablePool, NIL } from './memtable.ts';
import { applyRecord, encodeBatch, scanWal, sealRecord, walHeader } from './wal.ts';

const b = (s: string): Uint8Array => new TextEncoder().encode(s);

function log(...batches: Uint8Array[][]): { buf: Uint8Array; ends: number[] } {
  const parts: Uint8Array[] = [walHeader()];
  let seq = 0;
  const ends: number[] = [];
  let len = 8;
  for (const keys of batches) {
    const rec = encodeBatch(keys.map((k) => ({ type: 'put', key: k, value: k })));
    sealRecord(rec, ++seq);
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
        assert.equal(copied.count, whole.count);
        for (let n = whole.first(), c = copied.first(); n !== NIL; n = whole.next(n), c = copied.next(c)) {
          assert.deepEqual(copied.key(c), whole.key(n));
          assert.equal(copied.find(whole.key(n)), c);
          const vs = (m: Memtable, x: number): [number, Uint8Array | null][] => {
            const out: [number, Uint8Array | null][] = [];
            for (let v = m.newest(x); v !== NIL; v = m.older(v)) out.push([m.seq(v), m.value(v)]);
            return out;
          };
          assert.deepEqual(vs(copied, c), vs(whole, n));
        }
        copied.recycle(4096);
      }),
      { seed: 11, numRuns: 200 },
    );
  });

  it('a torn tail (any cut inside the last record) is reported, earlier records survive', () => {
    const { buf, ends } = log([b('x'), b('y')], [b('z')], [b('w'), b('v')]);
    for (let cut = ends[1]! + 1; cut < buf.length; cut++) {
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

  it('refuses a WAL of an older or newer format version', () => {
    const { buf } = log([b('x')]);
    assert.equal(buf[4], 2);
    for (const v of [1, 3]) {
      const other = buf.slice();
      other[4] = v;
      assert.throws(
        () => scanWal(other, 'w'),
        (e) => isLargetableError(e, 'UNSUPPORTED_FORMAT') && e.details['offset'] === 4 && /version 1 .*reads 2|version 3 .*reads 2/.test(e.message),
      );
    }
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
    for (let cut = ends[1]! + 1; cut < buf.length; cut++) {
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
