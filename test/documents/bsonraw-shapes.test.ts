import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BSON, BSONError, BSONRegExp, BSONSymbol, Binary, Code, DBRef, Decimal128, Long, MaxKey, MinKey, ObjectId, Timestamp, UUID } from 'bson';
import { decodeFast, decodeFastAt } from '../../src/document/bsonraw.ts';
import { decodeDocument } from '../../src/document/engine.ts';

// A file of its own (a fresh module: no shapes built yet): the decoder builds a shape after 3
// sightings of a name sequence, more once it has built hundreds (bsonraw.test.ts's property tests
// build that many), and these tests need the shapes, and their compiled passes, in use.
const bsonOptions = { promoteLongs: false } as const;

describe('decodeFast() shapes and their compiled passes', () => {
  it('decodeFast() shapes: names that need escaping in generated source, integer-like, refused, very long and repeated names, 32 and 33 fields, each decoded many times (the compiled pass) equal to bson', () => {
    // each list is a document's names in order; every document of one list is decoded 12 times in a
    // row with other values (the shape is built after a few and then decodes the rest in one pass)
    const tricky = ['"', "'", '`', '\\', '\\"', 'a${x}', '\u2028', '\u2029', '*/', '//', '</script>', '\n', '\r\n', '\t', '\u0001', '\u007f', '\ufeff', 'é', '\u{1F600}', ' '];
    const locals = ['b', 'o', 'stop', 'id', 'h', 't', 'v', 'k', 'x0', 'x1', 'D', 'build', 'decode', 'this', 'return', 'undefined', 'arguments', 'new'];
    const integerLike = ['0', '1', '10', '01', '-0', '-1', '1e3', '1.5', 'NaN', '4294967294', '4294967295', '9007199254740993'];
    const protoLike = ['constructor', 'prototype', 'hasOwnProperty', 'toString', 'valueOf', '__defineGetter__', '__lookupSetter__', '__proto', '_proto__', '__proto__x'];
    const lists: string[][] = [
      ['_id', ...tricky.slice(0, 10)],
      ['_id', ...tricky.slice(10)],
      ['_id', ...locals],
      [...integerLike, '_id'],
      ['_id', ...protoLike],
      ['_id', '__proto__', 'a'], // refused (bson decodes it): never a shape
      ['_id', 'a', '$b'], // refused as well
      ['_id', 'x'.repeat(200), 'y'.repeat(56)], // 259 name bytes: a shape without a compiled pass
      ['_id', 'x'.repeat(200), 'y'.repeat(53)], // 256: with one
      ['_id', 'z'.repeat(1100)], // too long for a shape
      ['_id', 'é'.repeat(130)], // multi-byte, 260 bytes
      Array.from({ length: 32 }, (_, i) => (i === 0 ? '_id' : `f${i}`)),
      Array.from({ length: 33 }, (_, i) => (i === 0 ? '_id' : `f${i}`)),
      [],
      [''],
      ['_id', 'a', 'a', 'b', 'a'], // repeated names (raw BSON): first position, last value
    ];
    const values = (r: number): unknown[] => [`s${r}`, r, r + 0.5, -0, NaN, new Date(r * 1000), null, r % 2 === 0, [r, `t${r}`], { p: r }, new ObjectId((r + 1).toString(16).padStart(24, '0')), '', 'é'.repeat(r % 4), 2 ** 31 + r];
    // a document with these names and values from `r` (BSON written by hand: repeated names kept)
    const encode = (names: string[], r: number): Uint8Array => {
      const parts = names.map((n, j) => {
        const one = BSON.serialize({ v: values(r + j)[(r * 7 + j * 3) % 14] });
        const name = new TextEncoder().encode(n);
        const body = one.subarray(4 + 1 + 2, one.length - 1); // the value's bytes after 'v\0'
        return Uint8Array.from([one[4]!, ...name, 0, ...body]);
      });
      const len = 4 + parts.reduce((a, p) => a + p.length, 0) + 1;
      const out = new Uint8Array(len);
      new DataView(out.buffer).setInt32(0, len, true);
      let o = 4;
      for (const p of parts) {
        out.set(p, o);
        o += p.length;
      }
      return out;
    };
    const sameAsBson = (got: Record<string, unknown> | undefined, bytes: Uint8Array, what: string): boolean => {
      if (got === undefined) return false;
      const want = BSON.deserialize(bytes, bsonOptions);
      assert.deepStrictEqual(got, want, what);
      assert.deepEqual(Object.keys(got), Object.keys(want), what);
      assert.equal(Object.getPrototypeOf(got), Object.prototype, what);
      return true;
    };
    for (const [li, names] of lists.entries()) {
      let decoded = 0;
      for (let r = 0; r < 12; r++) {
        const bytes = encode(names, li * 100 + r);
        if (sameAsBson(decodeFast(bytes), bytes, `list ${li} doc ${r}`)) decoded++;
        // inside a store block, after other bytes and before a document of other names, with a point read's id
        const block = new Uint8Array(bytes.length + 40);
        block.fill(0x41);
        block.set(bytes, 13);
        const id = names[0] === '_id' ? String(decodeFast(bytes)?._id ?? 'x') : 'x';
        sameAsBson(decodeFastAt(block, 13, bytes.length, id), bytes, `list ${li} doc ${r} in a block`);
      }
      const refused = names.includes('__proto__') || names.some((n) => n.startsWith('$'));
      assert.equal(decoded, refused ? 0 : 12, `list ${li}: ${decoded} decoded`);
    }
    // names alternating between two lists that differ in one byte of a long name (each shape's pass sees the other's documents)
    for (let r = 0; r < 40; r++) {
      const names = ['_id', 'x'.repeat(100) + (r % 2 ? 'a' : 'b'), 'n'];
      const bytes = encode(names, r);
      assert.ok(sameAsBson(decodeFast(bytes), bytes, `alternating ${r}`));
    }
  });

  it('decodeFast() on corrupted and cut bytes through a shape\'s compiled pass: the document bson reads, or undefined (bson then throws its typed error), never another document', () => {
    const base = { _id: 'k1', name: 'ann', age: 31, score: 2.5, at: new Date(5), ok: true, none: null, oid: new ObjectId('0123456789abcdef01234567'), tags: ['a', 2], sub: { p: 'q' } };
    const good = BSON.serialize(base);
    const bsonOf = (bytes: Uint8Array): { doc?: unknown; err?: unknown } => {
      try {
        return { doc: BSON.deserialize(bytes, bsonOptions) };
      } catch (err) {
        return { err };
      }
    };
    const compare = (bytes: Uint8Array, got: () => unknown, what: string): void => {
      for (let i = 0; i < 5; i++) decodeFast(good, 'k1'); // the shape built and used last
      const want = bsonOf(bytes);
      let d: unknown;
      try {
        d = got();
      } catch (err) {
        // only where bson fails too, and a typed error (BSONError or a TypeError from strict UTF-8)
        assert.ok(want.err !== undefined, `${what}: decodeFast threw ${String(err)} where bson decodes`);
        assert.ok(err instanceof BSONError || err instanceof TypeError, `${what}: ${String(err)}`);
        return;
      }
      if (d === undefined) return;
      assert.ok(want.err === undefined, `${what}: decodeFast decoded where bson throws ${String(want.err)}`);
      const w = want.doc as Record<string, unknown>;
      const g = d as Record<string, unknown>;
      // an out-of-range date is an invalid Date in both (deepStrictEqual tells invalid Dates apart)
      for (const k of Object.keys(w)) if (w[k] instanceof Date && Number.isNaN((w[k] as Date).getTime()) && g[k] instanceof Date && Number.isNaN((g[k] as Date).getTime())) w[k] = g[k];
      assert.deepStrictEqual(g, w, what);
      assert.deepEqual(Object.keys(g), Object.keys(w), what);
    };
    // the shape built and in use (decoded many times: built whatever the threshold is by then)
    for (let i = 0; i < 50; i++) decodeFast(good, 'k1');
    // every byte of the document made every other value
    for (let p = 0; p < good.length; p++) {
      for (let v = 0; v < 256; v++) {
        if (v === good[p]) continue;
        const bad = new Uint8Array(good);
        bad[p] = v;
        compare(bad, () => decodeFast(bad, 'k1'), `byte ${p} = ${v}`);
      }
    }
    // cut short at every length (its length word saying so), inside a block whose next bytes are another document
    for (let len = 5; len < good.length; len++) {
      const block = new Uint8Array(good.length * 2 + 8);
      block.set(good, 8);
      block.set(good, 8 + len);
      new DataView(block.buffer).setInt32(8, len, true);
      const cut = block.slice(8, 8 + len);
      compare(cut, () => decodeFastAt(block, 8, len, 'k1'), `cut at ${len}`);
      compare(cut, () => decodeFast(cut, 'k1'), `cut at ${len}, alone`);
    }
    assert.deepStrictEqual(decodeFast(good, 'k1'), base);
  });
  it('decodeFast() shapes: a field of a shape holding each type the fast decoder leaves to bson (binary, UUID, int64, decimal, timestamp, regex, code, symbol, min/max key, undefined, DBRef): undefined, and decodeDocument equals bson', () => {
    const base = { _id: 'r1', s: 'x', i: 1, d: 1.5, t: new Date(1), o: { a: 1 }, l: [1] };
    const rare: unknown[] = [
      new Binary(Uint8Array.of(1, 2, 3)),
      new UUID('0123456789abcdef0123456789abcdef'),
      Long.fromNumber(2 ** 40),
      Decimal128.fromString('1.5'),
      new Timestamp({ t: 1, i: 2 }),
      new BSONRegExp('a+', 'i'),
      /b+/m,
      new Code('x => x'),
      new Code('x', { y: 1 }),
      new BSONSymbol('sym'),
      new MinKey(),
      new MaxKey(),
      new DBRef('coll', new ObjectId('0123456789abcdef01234567')),
    ];
    for (let i = 0; i < 50; i++) decodeFast(BSON.serialize(base), 'r1'); // the shape built and in use
    for (const name of Object.keys(base)) {
      for (const x of rare) {
        // at the top level and inside the document and array fields
        for (const v of [x, { a: x }, [1, x]]) {
          const bytes = BSON.serialize({ ...base, [name]: v });
          const want = BSON.deserialize(bytes, bsonOptions);
          decodeFast(BSON.serialize(base), 'r1');
          assert.equal(decodeFast(bytes, 'r1'), undefined, `${name}: ${String(x)}`);
          assert.deepStrictEqual(decodeDocument(bytes), want, `${name}: ${String(x)}`);
        }
      }
      // BSON undefined (type 6, deprecated: bson writes null for undefined): the null's type byte made 6
      const bytes = BSON.serialize({ ...base, [name]: null });
      const pat = Uint8Array.of(10, ...new TextEncoder().encode(name), 0);
      const el = bytes.findIndex((_, p) => pat.every((c, k) => bytes[p + k] === c));
      assert.ok(el > 0);
      bytes[el] = 6;
      decodeFast(BSON.serialize(base), 'r1');
      assert.equal(decodeFast(bytes, 'r1'), undefined, `${name}: undefined`);
      assert.deepStrictEqual(decodeDocument(bytes), BSON.deserialize(bytes, bsonOptions));
    }
    assert.deepStrictEqual(decodeFast(BSON.serialize(base), 'r1'), base);
  });

});
