import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isLargetableError } from '../errors.ts';
import { Memtable } from './memtable.ts';
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

  it('a torn tail (any cut inside the last record) is reported, earlier records survive', () => {
    const { buf, ends } = log([b('x'), b('y')], [b('z')], [b('w'), b('v')]);
    for (let cut = ends[1]! + 1; cut < buf.length; cut++) {
      const scan = scanWal(buf.subarray(0, cut), 'w');
      assert.equal(scan.records.length, 2, `cut ${cut}`);
      assert.equal(scan.validEnd, ends[1]);
      assert.equal(scan.tornBytes, cut - ends[1]!);
    }
  });

  it('a damaged record followed by valid ones is CORRUPTION naming file and offset', () => {
    const { buf, ends } = log([b('x')], [b('y')], [b('z')]);
    const bad = buf.slice();
    bad[ends[0]! + 12]! ^= 0x10; // inside record 2
    assert.throws(() => scanWal(bad, 'the.wal'), (e) => isLargetableError(e, 'CORRUPTION') && e.details['file'] === 'the.wal' && e.details['offset'] === ends[0]);
  });

  it('refuses a WAL of another format version', () => {
    const { buf } = log([b('x')]);
    const v2 = buf.slice();
    v2[4] = 2;
    assert.throws(() => scanWal(v2, 'w'), (e) => isLargetableError(e, 'UNSUPPORTED_FORMAT'));
  });

  it('validates ops', () => {
    assert.throws(() => encodeBatch([{ type: 'put', key: 'k' as unknown as Uint8Array, value: b('') }]), (e) => isLargetableError(e, 'INVALID_ARGUMENT'));
    assert.throws(() => encodeBatch([{ type: 'put', key: b('k'), value: new Uint8Array(16 * 1024 * 1024 + 1) }]), (e) => isLargetableError(e, 'LIMIT_EXCEEDED'));
  });
});
