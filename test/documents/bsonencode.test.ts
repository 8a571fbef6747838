import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { BSON, Binary, Decimal128, Double, Int32, Long, ObjectId, UUID } from 'bson';
import { Buffer } from 'node:buffer';
import { encodeFast, encodeFastShared, encodeFastValidated, installUtf8Write } from '../../src/document/bsonencode.ts';
import { validateDocument } from '../../src/query/validate.ts';
import { encodeDocument } from '../../src/document/engine.ts';
import { arbValue } from '../query/arbitraries.ts';

const hex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
const same = (a: Uint8Array, b: Uint8Array): void => assert.equal(hex(a), hex(b));

const arbString = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary' }),
  // lone surrogates and other UTF-16 units, one by one
  fc.array(fc.integer({ min: 0, max: 0xffff }), { maxLength: 6 }).map((cs) => String.fromCharCode(...cs)),
  fc.constantFrom('', 'é', '\u{1F600}', '\uD800', 'a\uDC00b', 'x'.repeat(300), 'é'.repeat(40), 'y'.repeat(33) + '\uD800', '\u{1F600}'.repeat(20)),
  // longer than the encoder's character loop (TextEncoder.encodeInto writes those)
  fc.string({ unit: 'binary', minLength: 33, maxLength: 80 }),
);
const arbNumber = fc.oneof(
  fc.double(),
  fc.integer(),
  fc.constantFrom(0, -0, NaN, Infinity, -Infinity, 2 ** 31 - 1, 2 ** 31, -(2 ** 31), -(2 ** 31) - 1, 2 ** 53 - 1, 2 ** 53, -(2 ** 53), 0.1, 1e300),
);
const arbDate = fc.oneof(
  fc.integer({ min: -8.64e15, max: 8.64e15 }).map((t) => new Date(t)),
  fc.constantFrom(new Date(0), new Date(-1), new Date(2 ** 32), new Date(-(2 ** 32) - 1), new Date(NaN)),
);
const arbKey = fc.oneof(fc.constantFrom('a', 'b', '_id', 'é', '', '$x', 'a.b', '0', '10', '__proto__', 'constructor', 'prototype', 'prototypes', 'x$', 'k\u0000', '\uD800'), fc.string({ maxLength: 4 }));
const arbScalar: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: arbString },
  { weight: 3, arbitrary: arbNumber },
  { weight: 1, arbitrary: fc.boolean() },
  { weight: 1, arbitrary: fc.constant(null) },
  { weight: 1, arbitrary: arbDate },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 2 ** 31 - 1 }).map((t) => ObjectId.createFromTime(t)) },
  // values the fast encoder leaves to bson
  {
    weight: 1,
    arbitrary: fc.constantFrom<unknown>(undefined, 5n, Long.fromNumber(7), new Double(1), new Int32(2), Decimal128.fromString('1.5'), new Binary(new Uint8Array([1, 2])), new UUID(), /ab/i, new Uint8Array([3])),
  },
);
const arbTree: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, arbScalar, tie('arr'), tie('obj')),
  arr: fc.array(tie('value'), { maxLength: 4 }),
  obj: fc.dictionary(arbKey, tie('value'), { maxKeys: 4, noNullPrototype: false }),
})).value;
const arbDoc = fc.dictionary(arbKey, arbTree, { maxKeys: 6, noNullPrototype: false });

/** BSON.serialize or its error message. */
function reference(doc: object): Uint8Array | string {
  try {
    return BSON.serialize(doc);
  } catch (err) {
    return String((err as Error).message);
  }
}

describe('encodeFast: the bytes of BSON.serialize for the common document shapes', () => {
  it('equals BSON.serialize whenever it encodes, and encodeDocument always does (property)', () => {
    let fast = 0;
    fc.assert(
      fc.property(fc.oneof(arbDoc, arbValue({}, 3).filter((v) => v !== null && typeof v === 'object' && !Array.isArray(v))), (doc) => {
        const ref = reference(doc as object);
        const got = encodeFast(doc as object);
        if (got !== undefined) {
          fast++;
          assert.equal(typeof ref, 'object', `bson refused what encodeFast encoded: ${String(ref)}`);
          same(got, ref as Uint8Array);
          assert.equal(got.byteOffset, 0);
          assert.equal(got.buffer.byteLength, got.length, 'an exact-size buffer of its own');
        }
        let viaEngine: Uint8Array | string;
        try {
          viaEngine = encodeDocument(doc as Record<string, unknown>);
        } catch (err) {
          viaEngine = String((err as Error).message);
        }
        if (typeof ref === 'string') assert.equal(viaEngine, ref);
        else same(viaEngine as Uint8Array, ref);
      }),
      { numRuns: 3000 },
    );
    assert.ok(fast > 1000, `the fast path encoded only ${fast} documents`);
  });

  it('writes the same bytes with a native string encoder installed as with TextEncoder (property)', () => {
    // Node's: its buffer class's utf8Write on a plain Uint8Array (installed by platform/node/kernels.ts)
    const w = (Buffer.prototype as unknown as { utf8Write: (this: Uint8Array, s: string, o: number) => number }).utf8Write;
    const prev = installUtf8Write((b, s, o) => w.call(b, s, o));
    try {
      fc.assert(
        fc.property(fc.dictionary(arbKey, fc.oneof(arbString, fc.array(arbString, { maxLength: 3 })), { maxKeys: 5 }), (doc) => {
          const ref = reference(doc);
          const got = encodeFast(doc);
          if (got !== undefined) same(got, ref as Uint8Array);
          else assert.equal(typeof ref, 'string', 'gave up on a document bson encodes');
        }),
        { numRuns: 2000 },
      );
      for (const s of ['\uD800', 'a'.repeat(40) + '\uDC00', '\u{1F600}'.repeat(30), 'é'.repeat(33), 'x'.repeat(5000)]) same(encodeFast({ s, [s]: 1 })!, BSON.serialize({ s, [s]: 1 }));
    } finally {
      installUtf8Write(prev);
    }
  });

  it('encodes the common shapes itself and leaves the rest to bson', () => {
    const oid = new ObjectId();
    const doc = { _id: oid, s: 'héllo \u{1F600}', i: 42, n: -(2 ** 31), big: 2 ** 31, f: 1.5, z: -0, nan: NaN, t: true, nul: null, d: new Date(-5), a: [1, 'x', [null], { b: false }], o: { p: { q: 'r' } } };
    const got = encodeFast(doc);
    assert.ok(got);
    same(got, BSON.serialize(doc));
    const proto = Object.create(null) as Record<string, unknown>;
    proto.x = 1;
    same(encodeFast(proto)!, BSON.serialize(proto));
    class Point {
      x = 1;
    }
    const toBSON = { toBSON: () => ({ y: 2 }) };
    for (const v of [undefined, 1n, Long.fromNumber(1), new Binary(new Uint8Array(1)), new Decimal128('1'), /x/, new Uint8Array(2), new Map([['a', 1]]), new Point(), toBSON, new Date(NaN), () => 1, Symbol('s')]) {
      assert.equal(encodeFast({ v }), undefined, `left to bson: ${String(v)}`);
      assert.equal(encodeFast({ a: [{ v }] }), undefined, `left to bson when nested: ${String(v)}`);
    }
    assert.equal(encodeFast({ 'k\u0000': 1 }), undefined);
    assert.equal(encodeFast(new Point()), undefined);
    assert.equal(encodeFast({ _bsontype: 'ObjectId' }), undefined);
  });

  it('gives up on cycles and very deep documents (bson then refuses or encodes them)', () => {
    const cyc: Record<string, unknown> = { a: 1 };
    cyc.self = cyc;
    assert.equal(encodeFast(cyc), undefined);
    assert.throws(() => encodeDocument(cyc), /circular/);
    let deep: Record<string, unknown> = { leaf: 1 };
    for (let i = 0; i < 300; i++) deep = { d: deep };
    assert.equal(encodeFast(deep), undefined);
    same(encodeDocument(deep), BSON.serialize(deep));
  });

  it('returns bytes of their own: later encodes do not change earlier results', () => {
    const a = encodeFast({ s: 'first' })!;
    const copy = a.slice();
    const big = encodeFast({ s: 'x'.repeat(2 * 1024 * 1024) })!; // grows, then drops, the scratch buffer
    encodeFast({ s: 'second' });
    same(a, copy);
    same(big, BSON.serialize({ s: 'x'.repeat(2 * 1024 * 1024) }));
  });

  it('encodeFastShared: the same bytes, as views that later encodes never overwrite (across slabs)', () => {
    const docs = Array.from({ length: 400 }, (_, i) => ({ _id: i, s: 'y'.repeat(i * 13), a: [i, 'z'] }));
    const got = docs.map((d) => encodeFastShared(d)!);
    for (let i = 0; i < docs.length; i++) same(got[i]!, BSON.serialize(docs[i]!));
    assert.ok(got.some((b) => b.buffer.byteLength > b.length), 'short encodings share a buffer');
    const large = encodeFastShared({ s: 'q'.repeat(64 * 1024) })!;
    assert.equal(large.buffer.byteLength, large.length, 'a large encoding has a buffer of its own');
    assert.equal(encodeFastShared(new Map() as unknown as object), undefined);
  });

  it('encodeFastShared: written in place after its room; large ones and ones given up midway leave later encodes intact', () => {
    const got: [Uint8Array, object][] = [];
    const reserved = { room: -1 };
    for (let i = 0; i < 300; i++) {
      // a large one every 7th (a view of its own), one given up after 500 bytes every 5th
      const doc = i % 7 === 0 ? { _id: i, s: 'L'.repeat(5000 + i) } : { _id: i, s: 'y'.repeat((i * 37) % 900), n: i * 1.5 };
      if (i % 5 === 0) assert.equal(encodeFastShared({ a: 'g'.repeat(500), b: undefined }), undefined);
      const b = encodeFastShared(doc, 20, reserved)!;
      assert.equal(reserved.room, i % 7 === 0 ? 0 : 20);
      got.push([b, doc]);
    }
    for (const [b, doc] of got) same(b, BSON.serialize(doc));
  });
});

describe('encodeFastValidated: encodes only what validateDocument accepts, checked in the same pass', () => {
  it('encodes only documents validateDocument accepts, with the bytes of BSON.serialize (property)', () => {
    let fast = 0;
    let refused = 0;
    fc.assert(
      fc.property(fc.oneof(arbDoc, arbValue({}, 3).filter((v) => v !== null && typeof v === 'object' && !Array.isArray(v))), (doc) => {
        let valid = true;
        try {
          validateDocument(doc as Record<string, unknown>);
        } catch {
          valid = false;
          refused++;
        }
        const got = encodeFastValidated(doc as object, 7);
        if (got === undefined) return;
        fast++;
        // the one rule left to the caller: an array _id
        assert.ok(valid || Array.isArray((doc as Record<string, unknown>)._id), 'encoded a document validateDocument refuses');
        same(got, BSON.serialize(doc as object));
      }),
      { numRuns: 3000 },
    );
    assert.ok(fast > 500 && refused > 200, `encoded ${fast}, refused ${refused}`);
  });

  it('gives up at each refused name and at the nesting limit, and is encodeFast otherwise', () => {
    for (const k of ['$set', '__proto__', 'constructor', 'prototype', 'k\u0000']) {
      const own = JSON.parse(`{"a":1,${JSON.stringify(k)}:2}`) as Record<string, unknown>;
      assert.equal(encodeFastValidated(own), undefined, k);
      assert.equal(encodeFastValidated({ a: [{ b: own }] }), undefined, `${k} nested`);
    }
    // nesting: validateDocument refuses a container at depth documentDepthMax (100)
    const nest = (n: number, arr: boolean): Record<string, unknown> => {
      let v: unknown = 1;
      for (let i = 0; i < n; i++) v = arr && i % 2 ? [v] : { d: v };
      return { d: v };
    };
    for (const arr of [false, true]) {
      for (const n of [98, 99, 100]) {
        const doc = nest(n, arr);
        let valid = true;
        try {
          validateDocument(doc);
        } catch {
          valid = false;
        }
        const got = encodeFastValidated(doc);
        assert.equal(got !== undefined, valid, `depth ${n + 1} (arrays: ${arr})`);
        if (got) same(got, BSON.serialize(doc));
      }
    }
    // after a refusal the plain encoder is as before (the checks end with the call)
    assert.ok(encodeFast({ $x: 1 }));
    assert.ok(encodeFast(nest(150, false)));
    const doc = { _id: 1, name: 'a', tags: ['x', 'y'], at: new Date(5), sub: { n: 1.5 } };
    same(encodeFastValidated(doc)!, BSON.serialize(doc));
  });
});
