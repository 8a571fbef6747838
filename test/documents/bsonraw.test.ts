import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { BSON, Binary, Decimal128, Double, Int32, Long, ObjectId, UUID } from 'bson';
import { compileFilter } from '../../src/query/index.ts';
import { compareNumberField, compileRawFilter, decodeFast, decodeFastAt, hasBinary, installUtf8Slice, locate, numberField, readDouble, i32 } from '../../src/document/bsonraw.ts';
import type { Utf8Slice } from '../../src/document/bsonraw.ts';
import { compareValues } from '../../src/query/values.ts';
import { arbDocBody, arbFilter, arbValue } from '../query/arbitraries.ts';

const FIELDS = ['a', 'b', 'c', 'é', ''] as const;
const bsonOptions = { promoteLongs: false } as const;

/** Values that exercise the raw reader: int32/double/int64/decimal numbers, NaN, -0, unicode strings, arrays. */
const arbRawScalar: fc.Arbitrary<unknown> = fc.oneof(
  fc.integer({ min: -3, max: 5 }),
  fc.constantFrom(0.5, -1.5, 2.25, -0, NaN, Infinity, -Infinity, 2 ** 40),
  fc.constantFrom('', 'a', 'b', 'ab', 'B', 'é', '\u{1F600}', 'a\u0000'),
  fc.boolean(),
  fc.constant(null),
  fc.constantFrom(Long.fromInt(2), Long.fromNumber(-1), Decimal128.fromString('2'), new Double(2), new Int32(3), new Date(2)),
);
const arbRawValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: arbRawScalar },
  { weight: 2, arbitrary: fc.array(fc.oneof(arbRawScalar, fc.array(arbRawScalar, { maxLength: 2 }), fc.record({ a: arbRawScalar })), { maxLength: 4 }) },
  { weight: 1, arbitrary: fc.record({ a: arbRawScalar }) },
  { weight: 1, arbitrary: arbValue({}, 2) },
);
const arbRawDoc = fc.dictionary(fc.constantFrom(...FIELDS), arbRawValue, { maxKeys: 4, noNullPrototype: true });

const arbOperand: fc.Arbitrary<unknown> = fc.oneof(
  fc.integer({ min: -3, max: 5 }),
  fc.constantFrom(0.5, -0, NaN, Infinity, 2 ** 40),
  fc.constantFrom('', 'a', 'b', 'é', '\u{1F600}', 'a\u0000'),
  fc.boolean(),
  fc.constant(null),
);
const arbCond: fc.Arbitrary<unknown> = fc.oneof(
  arbOperand,
  fc.dictionary(fc.constantFrom('$eq', '$gt', '$gte', '$lt', '$lte'), arbOperand, { minKeys: 1, maxKeys: 2, noNullPrototype: true }),
  fc.record({ $in: fc.array(arbOperand, { maxLength: 4 }) }),
  fc.record({ $gte: fc.integer({ min: -3, max: 5 }), $lt: fc.integer({ min: -3, max: 5 }) }),
);
const arbRawFilter = fc.dictionary(fc.constantFrom('a', 'b', 'c', 'é'), arbCond, { minKeys: 1, maxKeys: 3, noNullPrototype: true });

describe('raw BSON field access', () => {
  it('locate() finds the same top-level fields and values as deserialize', () => {
    fc.assert(
      fc.property(arbRawDoc, fc.subarray([...FIELDS, 'zz']), (body, want) => {
        const doc = { _id: 1, ...body };
        const bytes = BSON.serialize(doc);
        const full = BSON.deserialize(bytes, bsonOptions);
        const names = want.map((n) => new TextEncoder().encode(n));
        const vo = new Int32Array(names.length);
        const ty = new Uint8Array(names.length);
        assert.ok(locate(bytes, names, vo, ty));
        want.forEach((n, j) => {
          assert.equal(vo[j]! >= 0, Object.prototype.hasOwnProperty.call(full, n), n);
          if (vo[j]! < 0) return;
          const v = full[n];
          if (ty[j] === 1) assert.ok(Object.is(readDouble(bytes, vo[j]!), v));
          if (ty[j] === 16) assert.equal(i32(bytes, vo[j]!), v);
        });
      }),
      { seed: 11, numRuns: 1000 },
    );
  });

  it('compileRawFilter() agrees with compileFilter() on the decoded document whenever it answers', () => {
    let decided = 0;
    let compiled = 0;
    fc.assert(
      fc.property(fc.array(arbRawDoc, { minLength: 1, maxLength: 6 }), arbRawFilter, (docs, filter) => {
        const raw = compileRawFilter(filter);
        const m = compileFilter(filter);
        if (!raw) return;
        compiled++;
        for (const body of docs) {
          const bytes = BSON.serialize({ _id: 1, ...body });
          const r = raw(bytes);
          if (r === undefined) continue;
          decided++;
          assert.equal(r, m.test(BSON.deserialize(bytes, bsonOptions)), JSON.stringify(filter) + ' on ' + JSON.stringify(body));
        }
      }),
      { seed: 12, numRuns: 3000 },
    );
    assert.ok(compiled > 1000 && decided > 3000, `compiled ${compiled}, decided ${decided}`);
  });

  it('compileRawFilter(), numberField() and compareNumberField() read a document inside a larger buffer (a store block) as its own bytes', () => {
    // the document between other documents' bytes: a test or read that strays out of its range
    // (or starts at the buffer's start) sees the neighbours' fields and answers differently
    fc.assert(
      fc.property(arbRawDoc, arbRawDoc, arbRawDoc, arbRawFilter, fc.constantFrom(...FIELDS), (before, body, after, filter, field) => {
        const a = BSON.serialize({ _id: 0, ...before });
        const bytes = BSON.serialize({ _id: 1, ...body });
        const z = BSON.serialize({ _id: 2, ...after });
        const block = new Uint8Array(a.length + bytes.length + z.length);
        block.set(a);
        block.set(bytes, a.length);
        block.set(z, a.length + bytes.length);
        const raw = compileRawFilter(filter);
        if (raw) assert.equal(raw(block, a.length, bytes.length), raw(bytes), JSON.stringify(filter) + ' on ' + JSON.stringify(body));
        const name = new TextEncoder().encode(field);
        assert.ok(Object.is(numberField(block, name, a.length, bytes.length), numberField(bytes, name)));
        const full = BSON.deserialize(bytes, bsonOptions);
        const v = full[field];
        if (typeof v === 'number') assert.ok(Object.is(numberField(bytes, name), v));
        // the top-k gate's in-place comparison: compareValues of the field's number, 2 without one
        const x = numberField(bytes, name);
        for (const w of [0, -0, 1.5, -3, 2 ** 40, NaN, Infinity, ...(x === undefined ? [] : [x])]) {
          assert.equal(compareNumberField(block, name, a.length, bytes.length, w), x === undefined ? 2 : compareValues(x, w), `${field} ${x} vs ${w}`);
        }
      }),
      { seed: 14, numRuns: 3000 },
    );
  });

  it('agrees with compileFilter() on the shared generators', () => {
    fc.assert(
      fc.property(arbDocBody(), arbFilter({}, 2), (body, filter) => {
        const raw = compileRawFilter(filter);
        if (!raw) return;
        const bytes = BSON.serialize({ _id: 1, ...body });
        const r = raw(bytes);
        if (r !== undefined) assert.equal(r, compileFilter(filter).test(BSON.deserialize(bytes, bsonOptions)));
      }),
      { seed: 13, numRuns: 3000 },
    );
  });

  it('hasBinary() finds Binary values at any depth', () => {
    const containsBinary = (v: unknown): boolean => {
      if (v instanceof Binary) return true;
      if (Array.isArray(v)) return v.some(containsBinary);
      if (v !== null && typeof v === 'object' && (v as { _bsontype?: string })._bsontype === undefined && !(v instanceof Date)) return Object.values(v).some(containsBinary);
      return false;
    };
    const arbBin = fc.constantFrom(new Binary(Uint8Array.of(1, 2)), new UUID(), new Binary(new Uint8Array(0), 0x80));
    const arbWithBin: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
      v: fc.oneof({ weight: 3, arbitrary: arbRawValue }, { weight: 1, arbitrary: arbBin }, { weight: 1, arbitrary: fc.array(tie('v'), { maxLength: 3 }) }, { weight: 1, arbitrary: fc.dictionary(fc.constantFrom('a', 'b'), tie('v'), { maxKeys: 2, noNullPrototype: true }) }),
    })).v;
    fc.assert(
      fc.property(fc.dictionary(fc.constantFrom(...FIELDS), arbWithBin, { maxKeys: 4, noNullPrototype: true }), (body) => {
        const bytes = BSON.serialize({ _id: 1, ...body });
        assert.equal(hasBinary(bytes), containsBinary(BSON.deserialize(bytes, bsonOptions)));
      }),
      { seed: 14, numRuns: 2000 },
    );
  });

  it('decodeFast() equals bson deserialize whenever it decodes, and decodes the common types', () => {
    const arbCommon: fc.Arbitrary<unknown> = fc.oneof(
      fc.integer(),
      fc.double(),
      fc.constantFrom(-0, NaN, 2 ** 31, -(2 ** 31) - 1, 2 ** 53),
      fc.string(),
      fc.string({ unit: 'binary' }),
      fc.constantFrom('\ufeffbom', 'x'.repeat(30), 'é'.repeat(15), '\u{1F600}', '', '\ud800'),
      fc.boolean(),
      fc.constant(null),
      fc.date({ min: new Date(-8.64e15), max: new Date(8.64e15) }),
      fc.constantFrom(new ObjectId('5f0000000000000000000001'), new ObjectId()),
    );
    const arbRare = fc.constantFrom(Long.fromInt(2), Decimal128.fromString('1.5'), new Binary(Uint8Array.of(1)), /re/i, new Int32(3), new Double(2.5), undefined);
    const arbKey = fc.oneof(fc.constantFrom('a', 'b', 'é', '0', '10', '$x', '__proto__', 'constructor', 'ä'.repeat(20)), fc.string({ maxLength: 6 }).filter((k) => !k.includes('\0')));
    const arbV: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
      v: fc.oneof(
        { weight: 5, arbitrary: arbCommon },
        { weight: 1, arbitrary: arbRare },
        { weight: 1, arbitrary: fc.array(tie('v'), { maxLength: 3 }) },
        { weight: 1, arbitrary: fc.dictionary(arbKey, tie('v'), { maxKeys: 3 }) },
      ),
    })).v;
    let decoded = 0;
    fc.assert(
      fc.property(fc.dictionary(arbKey, arbV, { maxKeys: 5 }), (body) => {
        const bytes = BSON.serialize(body);
        const want = BSON.deserialize(bytes, bsonOptions);
        const got = decodeFast(bytes);
        if (got === undefined) return;
        decoded++;
        assert.deepStrictEqual(got, want);
        assert.deepEqual(Object.keys(got), Object.keys(want));
      }),
      { seed: 15, numRuns: 3000 },
    );
    assert.ok(decoded > 1000, `decoded ${decoded}`);
    const doc = { _id: new ObjectId(), name: 'Ada', n: 3, x: 1.5, d: new Date(5), t: ['a', 'b'], o: { p: null, q: true } };
    assert.deepStrictEqual(decodeFast(BSON.serialize(doc)), doc);
    assert.equal(decodeFast(BSON.serialize({ a: Long.fromInt(1) })), undefined);
    // arrays are built on a value stack: a decode that gives up inside nested arrays leaves nothing on
    // it, and the next decode's arrays hold exactly their own values
    assert.equal(decodeFast(BSON.serialize({ a: [1, 2, [3, [4, Long.fromInt(5)]]] })), undefined);
    assert.deepStrictEqual(decodeFast(BSON.serialize({ b: [[7], [], [8, [9, 'x']]], c: [10] })), { b: [[7], [], [8, [9, 'x']]], c: [10] });
    // more fields than decodeFast has per-position store sites (16), in their order, integer-like names too
    const wide = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [i % 7 === 3 ? String(i) : `f${39 - i}`, i % 2 ? `s${i}` : i]));
    const wideGot = decodeFast(BSON.serialize(wide))!;
    assert.deepStrictEqual(wideGot, BSON.deserialize(BSON.serialize(wide), bsonOptions));
    assert.deepEqual(Object.keys(wideGot), Object.keys(wide));
    assert.equal(decodeFast(Uint8Array.of(5, 0, 0, 0)), undefined);
    // strings of every length around the 8-character steps and the 24-byte cut, ASCII or with a
    // multi-byte character at any position, as values and as field names
    for (let n = 0; n <= 40; n++) {
      const ascii = Array.from({ length: n }, (_, i) => String.fromCharCode(32 + ((i * 7 + n) % 95))).join('');
      const variants = [ascii, ...Array.from({ length: n }, (_, i) => ascii.slice(0, i) + 'é' + ascii.slice(i + 1)), ascii + '\u{1F600}'];
      for (const v of variants) {
        const d = { v, [`n${v}`]: [v, { w: v }] };
        assert.deepStrictEqual(decodeFast(BSON.serialize(d)), BSON.deserialize(BSON.serialize(d), bsonOptions));
      }
    }
    // field names are reused from a cache by their bytes: many distinct names of one length (slot
    // collisions), alternating, each decode still gets its own names
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 2000; i++) {
        const k = `k${String(i).padStart(4, '0')}`;
        const d = { [k]: i, [`${k}x`]: round, f: k };
        assert.deepEqual(Object.keys(decodeFast(BSON.serialize(d))!), [k, `${k}x`, 'f']);
      }
    }
  });

  it('decodeFast() given an id decodes exactly what it decodes without one (the id taken only for an equal ASCII string _id)', () => {
    // ids around the document's _id: itself, one character changed, shorter, longer, the same bytes
    // read as Latin-1 ('é' is C3 A9 in UTF-8: 'Ã©' has those char codes), non-ASCII, not a string
    const arbId = fc.oneof(
      fc.string({ maxLength: 20 }),
      fc.constantFrom('a', 'ab', 'abc', 'é', 'Ã©', '\u{1F600}', 'x'.repeat(17), 'x'.repeat(30), '', 'a\u0000b', 'ab\u0000'),
    );
    // (and the part before a NUL: the string's bytes up to there end as an id's would)
    const variants = (id: string): string[] => [id, `${id}x`, id.slice(0, -1), id.split('\u0000')[0]!, id.length > 0 ? `${id.slice(0, -1)}${id.at(-1) === 'y' ? 'z' : 'y'}` : 'y', String.fromCharCode(...new TextEncoder().encode(id))];
    const arbRest = fc.dictionary(fc.constantFrom('name', 'n', 'é', 'tags'), fc.oneof(fc.string(), fc.integer(), fc.array(fc.string(), { maxLength: 3 })), { maxKeys: 3 });
    fc.assert(
      fc.property(fc.oneof(arbId, fc.integer(), fc.constant(null)), arbRest, fc.boolean(), (_id, rest, idFirst) => {
        // _id first (as stored documents have it) or after another field (never taken then)
        const body = idFirst ? { _id, ...rest } : { z: 1, _id, ...rest };
        const bytes = BSON.serialize(body);
        const want = decodeFast(bytes);
        for (const id of typeof _id === 'string' ? variants(_id) : ['1', 'null', '']) {
          const got = decodeFast(bytes, id);
          assert.deepStrictEqual(got, want, `id ${JSON.stringify(id)} of _id ${JSON.stringify(_id)}`);
          if (got !== undefined) assert.deepEqual(Object.keys(got), Object.keys(want!));
        }
      }),
      { seed: 21, numRuns: 1500 },
    );
    // inside a larger buffer (a store block), as the point read decodes it
    const doc = { _id: 'k0001', name: 'Ada', tags: ['a'] };
    const inner = BSON.serialize(doc);
    const block = new Uint8Array(inner.length + 10);
    block.set(inner, 7);
    assert.deepStrictEqual(decodeFastAt(block, 7, inner.length, 'k0001'), doc);
    assert.deepStrictEqual(decodeFastAt(block, 7, inner.length, 'k0002'), doc);
  });

  it('decodeFast() builds documents of a repeated field-name sequence (shapes) equal to bson deserialize', () => {
    // few name sequences (each repeats, so decodes go through the shape built for it), names that
    // need quoting in a literal, integer-like names, repeated names (raw BSON), varying values
    const names = ['a', '0', '10', 'constructor', 'toString', 'x"y', 'b\\c', '\u2028', 'é', '\u{1F600}', "it's", '', 'valueOf', 'n\nl'];
    const arbNames = fc.uniqueArray(fc.constantFrom(...names), { minLength: 0, maxLength: 6 });
    const seqs = fc.sample(arbNames, { seed: 21, numRuns: 12 });
    const arbV: fc.Arbitrary<unknown> = fc.oneof(fc.integer(), fc.double(), fc.string(), fc.boolean(), fc.constant(null), fc.date({ min: new Date(0), max: new Date(1e12) }), fc.array(fc.string(), { maxLength: 3 }), fc.record({ p: fc.integer() }), fc.constantFrom(Long.fromInt(1)));
    let decoded = 0;
    fc.assert(
      fc.property(fc.nat({ max: seqs.length - 1 }), fc.array(arbV, { minLength: 6, maxLength: 6 }), (si, vals) => {
        const body: Record<string, unknown> = {};
        seqs[si]!.forEach((k, j) => (body[k] = vals[j]));
        const bytes = BSON.serialize(body);
        const got = decodeFast(bytes);
        if (got === undefined) return;
        decoded++;
        const want = BSON.deserialize(bytes, bsonOptions);
        assert.deepStrictEqual(got, want);
        assert.deepEqual(Object.keys(got), Object.keys(want));
        // plain objects (built by constructors whose prototype is Object.prototype), at every depth
        assert.equal(Object.getPrototypeOf(got), Object.prototype);
        assert.equal(got.constructor, Object.hasOwn(got, 'constructor') ? got.constructor : Object);
        for (const v of Object.values(got)) if (v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date) && !(v instanceof Long)) assert.equal(Object.getPrototypeOf(v), Object.prototype);
        // the caller's own object: a mutation does not reach the next decode of the same shape
        got.mutated = 1;
        if (Object.keys(got).length > 1) delete got[Object.keys(got)[0]!];
        assert.deepStrictEqual(decodeFast(bytes), want);
      }),
      { seed: 22, numRuns: 3000 },
    );
    assert.ok(decoded > 1500, `decoded ${decoded}`);
    // a repeated field name (BSON allows it; an object keeps the first position and the last value)
    const dup = (v1: number, v2: number): Uint8Array => {
      const one = BSON.serialize({ a: v1, b: 'x', c: v2 });
      one[one.indexOf(0x63, 4 + 1 + 2 + 4)] = 0x61; // the third name 'c' -> 'a'
      return one;
    };
    for (let i = 0; i < 20; i++) {
      const bytes = dup(i, i + 100);
      const got = decodeFast(bytes)!;
      assert.deepStrictEqual(got, BSON.deserialize(bytes, bsonOptions));
      assert.deepEqual(Object.keys(got), ['a', 'b']);
      assert.equal(got.a, i + 100);
    }
    // many distinct sequences (slots shared, shapes replaced) interleaved with one in steady use
    for (let round = 0; round < 4; round++) {
      for (let i = 0; i < 3000; i++) {
        const d = i % 2 ? { _id: i, name: `n${i}`, age: round } : { [`k${i % 500}`]: i, [`j${(i * 7) % 300}`]: 'v', z: [i] };
        const bytes = BSON.serialize(d);
        const got = decodeFast(bytes)!;
        assert.deepStrictEqual(got, BSON.deserialize(bytes, bsonOptions));
        assert.deepEqual(Object.keys(got), Object.keys(d));
      }
    }
    // a document it gives up on after some fields leaves no trace in the next one of the same names
    assert.equal(decodeFast(BSON.serialize({ _id: 1, name: 'x', age: Long.fromInt(3) })), undefined);
    assert.deepStrictEqual(decodeFast(BSON.serialize({ _id: 2, name: 'y', age: 4 })), { _id: 2, name: 'y', age: 4 });
  });

  it('decodeFast() shapes: a name differing by one byte, multi-byte names, the same names in another order, a name that runs on', () => {
    const check = (d: Record<string, unknown>): void => {
      const bytes = BSON.serialize(d);
      const got = decodeFast(bytes)!;
      assert.deepStrictEqual(got, BSON.deserialize(bytes, bsonOptions));
      assert.deepEqual(Object.keys(got), Object.keys(d));
    };
    const base = { _id: 'a', name: 'n', city: 'c', 'é\u{1F600}': 1, tags: ['x'] };
    // the shape is built after a few sightings and then used (lastShape); each variant after it
    for (let i = 0; i < 10; i++) check(base);
    const variants: Record<string, unknown>[] = [
      { _id: 'a', namf: 'n', city: 'c', 'é\u{1F600}': 1, tags: ['x'] }, // one byte differs
      { _id: 'a', nam: 'n', city: 'c', 'é\u{1F600}': 1, tags: ['x'] }, // a prefix of the name
      { _id: 'a', names: 'n', city: 'c', 'é\u{1F600}': 1, tags: ['x'] }, // the name runs on past the shape's
      { _id: 'a', name: 'n', city: 'c', 'è\u{1F600}': 1, tags: ['x'] }, // a multi-byte character differs
      { _id: 'a', name: 'n', city: 'c', 'é\u{1F601}': 1, tags: ['x'] }, // ... in its last byte
      { name: 'n', _id: 'a', city: 'c', 'é\u{1F600}': 1, tags: ['x'] }, // the same names in another order
      { _id: 'a', name: 'n', city: 'c', 'é\u{1F600}': 1 }, // one name fewer
      { _id: 'a', name: 'n', city: 'c', 'é\u{1F600}': 1, tags: ['x'], more: 2 }, // one more
      { _id: 'a', name: 'n', city: 'c', 'é\u{1F600}': 1, tags: ['x'], '': 0 }, // an empty name after
    ];
    for (let r = 0; r < 3; r++) {
      for (const v of variants) {
        check(v);
        check(base);
      }
    }
  });

  it('decodeFast() shapes: the compiled pass of a shape decodes every type in every field, and gives up where the field-by-field walk does', () => {
    // the shape is built on strings, int32s, doubles and dates (read inline by its compiled pass);
    // then each field holds each other type, a bad string length, a value that runs past the end
    const base = { _id: 'k1', name: 'ann', age: 31, score: 2.5, at: new Date(5), tags: ['a', 'b'] };
    const others: unknown[] = ['s', '', 7, -1, 0.5, new Date(1e12), null, true, [1, 'x'], { p: 1 }, new ObjectId('0123456789abcdef01234567'), Long.fromInt(3)];
    const check = (bytes: Uint8Array, id?: string): void => {
      let want: unknown;
      try {
        want = BSON.deserialize(bytes, bsonOptions);
      } catch {
        want = undefined;
      }
      const got = decodeFast(bytes, id);
      if (got !== undefined) {
        // a date out of range is an invalid Date in both (which deepStrictEqual tells apart)
        const w = want as Record<string, unknown>;
        if (w.at instanceof Date && Number.isNaN(w.at.getTime())) {
          assert.ok(got.at instanceof Date && Number.isNaN(got.at.getTime()));
          w.at = got.at;
        }
        assert.deepStrictEqual(got, want);
        assert.deepEqual(Object.keys(got), Object.keys(want as object));
      }
    };
    for (let i = 0; i < 10; i++) check(BSON.serialize(base), 'k1');
    for (const name of Object.keys(base)) {
      for (const x of others) {
        const bytes = BSON.serialize({ ...base, [name]: x });
        check(bytes, 'k1');
        check(bytes, 's');
        check(BSON.serialize(base), 'k1');
      }
    }
    // every string's length word made wrong, and the document cut short before its terminator
    const bytes = BSON.serialize(base);
    for (let p = 4; p < bytes.length - 1; p++) {
      for (const v of [0, 1, 0x7f, 0xff]) {
        const bad = new Uint8Array(bytes); // a copy (a Buffer's slice() is a view)
        bad[p] = v;
        check(bad, 'k1');
        check(BSON.serialize(base), 'k1');
      }
    }
    assert.deepStrictEqual(decodeFast(bytes, 'k1'), base);
  });

  it('decodeFast() with a native lenient string decoder installed decodes exactly what it decodes without one', () => {
    // lenient decoders as a platform installs them: invalid sequences become U+FFFD (the portable
    // non-fatal TextDecoder, and Buffer's utf8Slice where the runtime has it)
    const lenient = new TextDecoder('utf-8', { ignoreBOM: true });
    const slicers: Utf8Slice[] = [(b, s, e) => lenient.decode(b.subarray(s, e))];
    const bufferSlice = (globalThis as { Buffer?: { prototype: { utf8Slice?: (this: Uint8Array, s: number, e: number) => string } } }).Buffer?.prototype.utf8Slice;
    if (typeof bufferSlice === 'function') slicers.push((b, s, e) => bufferSlice.call(b, s, e));
    // documents whose strings are ASCII, multi-byte, a real U+FFFD, a BOM, of every length around
    // the cached (<= 10) and 24-byte cuts; and the same bytes with one string byte made invalid
    const docs: Uint8Array[] = [];
    for (let n = 0; n <= 40; n++) {
      const ascii = Array.from({ length: n }, (_, i) => String.fromCharCode(32 + ((i * 5 + n) % 95))).join('');
      for (const v of [ascii, `${ascii}é`, `\ufffd${ascii}`, `${ascii}\ufffd`, `\ufeff${ascii}`, `${ascii}\u{1F600}`]) {
        const bytes = BSON.serialize({ _id: v, v, a: [v, { w: v }] });
        docs.push(bytes);
        for (const bad of [0xff, 0x80, 0xc3, 0xed]) {
          // the first byte of the _id string (its value starts after type, "_id\0" and the length)
          if (v.length === 0) continue;
          const broken = bytes.slice();
          broken[4 + 1 + 4 + 4] = bad;
          docs.push(broken);
        }
      }
    }
    const want = docs.map((d) => {
      try {
        return decodeFast(d);
      } catch (e) {
        return e;
      }
    });
    assert.ok(want.some((w) => w === undefined) && want.some((w) => w !== undefined));
    for (const slicer of slicers) {
      const prev = installUtf8Slice(slicer);
      try {
        docs.forEach((d, i) => {
          let got: unknown;
          try {
            got = decodeFast(d);
          } catch (e) {
            got = e;
          }
          assert.deepStrictEqual(got, want[i], `document ${i}`);
        });
      } finally {
        installUtf8Slice(prev);
      }
    }
  });

  it('decodeFast() returns the right short strings from its cache of decoded ones (slots shared and replaced)', () => {
    // short ASCII strings are shared across decodes: many distinct values of the same lengths and
    // end bytes (slot collisions), repeated, mixed with non-ASCII, NUL-free control and longer ones
    const arbS = fc.oneof(
      fc.string({ unit: fc.constantFrom('a', 'b', 'z', '0', '9', ' ', '~', '\u007f', '\u0001'), minLength: 1, maxLength: 10 }),
      fc.string({ maxLength: 12 }).filter((x) => !x.includes('\0')),
      fc.constantFrom('city07', 'city70', 'cityx7', 'tag03', 'tag30', 'é', 'aé', 'abcdefghij', 'abcdefghijk'),
    );
    fc.assert(
      fc.property(fc.array(arbS, { minLength: 1, maxLength: 8 }), (vals) => {
        const d = { _id: vals[0], v: vals, s: vals[vals.length - 1], o: { t: vals[0] } };
        const bytes = BSON.serialize(d);
        const want = BSON.deserialize(bytes, bsonOptions);
        assert.deepStrictEqual(decodeFast(bytes), want);
        assert.deepStrictEqual(decodeFast(bytes), want);
      }),
      { seed: 23, numRuns: 3000 },
    );
    for (let i = 0; i < 20000; i++) {
      const x = `k${i % 7919}`;
      assert.equal(decodeFast(BSON.serialize({ x }))!.x, x);
    }
  });

  it('covers only the shapes it reads exactly', () => {
    assert.ok(compileRawFilter({ a: 1, b: 'x', c: { $gte: 1, $lt: 5 }, d: { $in: ['p', 2, true] } }));
    for (const f of [{}, { 'a.b': 1 }, { a: null }, { a: { $ne: 1 } }, { a: { b: 1 } }, { $or: [{ a: 1 }] }, { a: /x/ }, { a: { $gt: 'x' } }, { a: new Date(0) }, { a: '\ud800' }, { a: { $in: [null] } }]) {
      assert.equal(compileRawFilter(f as never), undefined, JSON.stringify(f));
    }
    // Long and Decimal128 values are left to the full matcher
    const t = compileRawFilter({ a: 2 })!;
    assert.equal(t(BSON.serialize({ a: Long.fromInt(2) })), undefined);
    assert.equal(t(BSON.serialize({ a: [1, Decimal128.fromString('2')] })), undefined);
    assert.equal(t(BSON.serialize({ a: [1, 2, Long.fromInt(7)] })), true);
    assert.equal(t(BSON.serialize({ b: 2 })), false);
  });
});
