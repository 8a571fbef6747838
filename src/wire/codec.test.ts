import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { BSON } from 'bson';
import {
  decodeMessage, decodeReply, encodeExhaustedCursorReply, encodeOpMsg, encodeOpMsgBody, encodeOpMsgRequest, encodeOpQuery, encodeOpReply, frameOpMsg, Framer, OP_MSG, opMsgBodyOffset, requestIdOf,
} from './codec.ts';
import { installKernels, kernels } from '../kernel/index.ts';
import { isLargetableError } from '../errors.ts';

function setInt32(b: Uint8Array, at: number, v: number): void {
  new DataView(b.buffer, b.byteOffset).setInt32(at, v, true);
}

describe('wire codec', () => {
  it('an exhausted cursor reply spliced from document BSON equals the serialized reply', () => {
    const expected = (ns: string, docs: Record<string, unknown>[]): Uint8Array =>
      new Uint8Array(BSON.serialize({ cursor: { firstBatch: docs, id: BSON.Long.ZERO, ns }, ok: new BSON.Double(1) }));
    assert.deepEqual(encodeExhaustedCursorReply('db.c', []), expected('db.c', []));
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 40 }).filter((s) => !s.includes('\0')), fc.array(fc.object({ maxDepth: 2 }), { maxLength: 12 }), (ns, docs) => {
        const bson = docs.map((d) => BSON.serialize(d));
        const got = encodeExhaustedCursorReply(ns, bson);
        assert.deepEqual(got, expected(ns, docs));
        const reply = decodeReply(encodeOpMsgBody(7, got));
        assert.equal((reply['cursor'] as { ns: string }).ns, ns);
        // with room for the header in front: the same BSON, framed in place into the same bytes
        const roomy = encodeExhaustedCursorReply(ns, bson, opMsgBodyOffset);
        assert.deepEqual(roomy, got);
        const frame = new Uint8Array(roomy.buffer, roomy.byteOffset - opMsgBodyOffset, opMsgBodyOffset + roomy.length);
        assert.equal(frame.byteOffset, 0);
        assert.equal(frame.buffer.byteLength, frame.length);
        const framed = frameOpMsg(7, frame);
        const copied = encodeOpMsgBody(7, got);
        assert.deepEqual(framed.subarray(8), copied.subarray(8)); // all but the (per-message) requestID
        assert.deepEqual(framed.subarray(0, 4), copied.subarray(0, 4));
      }),
      { numRuns: 200 },
    );
  });

  it('OP_MSG checksums use the kernels\' crc32c (standard check value)', () => {
    assert.equal(kernels().crc32c(new TextEncoder().encode('123456789')), 0xe3069283);
    const real = kernels();
    let calls = 0;
    installKernels({ ...real, crc32c: (b: Uint8Array, c?: number) => (calls++, real.crc32c(b, c)) });
    try {
      const msg = encodeOpMsgRequest(3, { ping: 1, $db: 'admin' }, { checksum: true });
      assert.equal(calls, 1);
      const v = new DataView(msg.buffer, msg.byteOffset, msg.length);
      assert.equal(v.getUint32(msg.length - 4, true), real.crc32c(msg.subarray(0, msg.length - 4)));
      decodeMessage(msg);
      assert.equal(calls, 2);
    } finally {
      installKernels(real);
    }
  });

  it('decodeMessage() reads an OP_MSG body with $db', () => {
    const msg = encodeOpMsgRequest(7, { ping: 1, $db: 'admin' });
    const req = decodeMessage(msg);
    assert.equal(req.op, 'msg');
    assert.equal(req.requestId, 7);
    assert.deepEqual(req.command, { ping: 1, $db: 'admin' });
  });

  it('decodeMessage() merges kind-1 document sequences and verifies checksums', () => {
    const docs = [{ a: 1 }, { a: 2, s: 'x'.repeat(100) }, {}];
    const msg = encodeOpMsgRequest(9, { insert: 'c', $db: 'd' }, { sequences: { documents: docs }, checksum: true });
    const req = decodeMessage(msg);
    assert.equal(req.op, 'msg');
    assert.deepEqual(req.command['documents'], docs);
    assert.equal((req as { flags: number }).flags & 1, 1);
    // Flip one payload byte: checksum mismatch is a typed error.
    const bad = msg.slice();
    bad[30] = bad[30]! ^ 0xff;
    assert.throws(() => decodeMessage(bad), (e: unknown) => isLargetableError(e, 'INVALID_ARGUMENT') && /checksum/.test((e as Error).message));
  });

  it('decodeMessage() reads a legacy OP_QUERY handshake', () => {
    const msg = encodeOpQuery(3, 'admin.$cmd', { isMaster: 1, client: { driver: { name: 'x' } } });
    const req = decodeMessage(msg);
    assert.equal(req.op, 'query');
    assert.equal((req as { collection: string }).collection, 'admin.$cmd');
    assert.equal(req.command['isMaster'], 1);
  });

  it('replies decode back to the document', () => {
    const doc = { ok: 1, n: 3, s: 'é' };
    const m = encodeOpMsg(5, doc);
    assert.equal(new DataView(m.buffer).getInt32(8, true), 5);
    assert.equal(new DataView(m.buffer).getInt32(12, true), OP_MSG);
    assert.deepEqual(decodeReply(m), doc);
    assert.deepEqual(decodeReply(encodeOpReply(6, doc)), doc);
  });

  it('rejects malformed messages with typed errors', () => {
    const good = encodeOpMsgRequest(1, { ping: 1, $db: 'a' });
    const cases: [string, Uint8Array][] = [];
    const shortLen = good.slice();
    setInt32(shortLen, 0, good.length + 10);
    cases.push(['length mismatch', shortLen]);
    const badKind = good.slice();
    badKind[20] = 7;
    cases.push(['section kind', badKind]);
    const badBson = good.slice();
    setInt32(badBson, 21, 1000);
    cases.push(['bson length', badBson]);
    const badType = good.slice();
    badType[25] = 0x7e; // unknown BSON element type
    cases.push(['bson element type', badType]);
    const op = good.slice();
    setInt32(op, 12, 9999);
    cases.push(['opcode', op]);
    const unknownFlag = good.slice();
    setInt32(unknownFlag, 16, 4);
    cases.push(['required flag bit', unknownFlag]);
    for (const [name, m] of cases) {
      assert.throws(() => decodeMessage(m), (e: unknown) => isLargetableError(e), name);
    }
    assert.equal(requestIdOf(badKind), 1);
  });

  it('Framer refuses oversized and undersized lengths before buffering', () => {
    const f = new Framer(1024);
    const head = new Uint8Array(16);
    setInt32(head, 0, 2048);
    assert.throws(() => f.push(head), (e: unknown) => isLargetableError(e, 'LIMIT_EXCEEDED'));
    const g = new Framer(1024);
    const tiny = new Uint8Array(16);
    setInt32(tiny, 0, 3);
    assert.throws(() => g.push(tiny), (e: unknown) => isLargetableError(e, 'INVALID_ARGUMENT'));
  });

  it('Framer reassembles messages from any chunking (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ a: fc.integer(), s: fc.string({ maxLength: 40 }) }), { minLength: 1, maxLength: 6 }),
        fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 30 }),
        (docs, cuts) => {
          const msgs = docs.map((d, i) => encodeOpMsgRequest(i + 1, { ...d, $db: 'x' }));
          const all = new Uint8Array(msgs.reduce((s, m) => s + m.length, 0));
          let o = 0;
          for (const m of msgs) {
            all.set(m, o);
            o += m.length;
          }
          const f = new Framer();
          const out: Uint8Array[] = [];
          let at = 0;
          let ci = 0;
          while (at < all.length) {
            const n = cuts[ci++ % cuts.length]!;
            out.push(...f.push(all.subarray(at, at + n)));
            at += n;
          }
          assert.equal(out.length, msgs.length);
          assert.equal(f.pending, 0);
          out.forEach((m, i) => {
            const req = decodeMessage(m);
            assert.equal(req.requestId, i + 1);
            assert.deepEqual(req.command, BSON.deserialize(BSON.serialize({ ...docs[i], $db: 'x' })));
          });
        },
      ),
      { seed: 42, numRuns: 100 },
    );
  });

  it('decodeMessage() never throws anything but LargetableError on random bytes (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 200 }), fc.constantFrom(2013, 2004, 1, 2012), (tail, opcode) => {
        const m = new Uint8Array(20 + tail.length);
        setInt32(m, 0, m.length);
        setInt32(m, 12, opcode);
        m.set(tail, 20);
        try {
          decodeMessage(m);
        } catch (e) {
          assert.ok(isLargetableError(e), String(e));
        }
      }),
      { seed: 7, numRuns: 300 },
    );
  });
});
