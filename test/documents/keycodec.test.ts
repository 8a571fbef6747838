import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { compareValues } from '../../src/query/index.ts';
import { bytesKey, compareBytes, complement, encodeValue, keyBytes, readValue } from '../../src/document/keycodec.ts';
import { encodeId } from '../../src/document/keyspace.ts';
import { arbValue } from '../query/arbitraries.ts';
import { Binary, Long, MaxKey, MinKey, ObjectId, Timestamp } from 'bson';

const sign = (x: number) => (x < 0 ? -1 : x > 0 ? 1 : 0);

describe('keycodec', () => {
  it('encodeValue() orders values like compareValues (BSON order across types)', () => {
    fc.assert(
      fc.property(arbValue(), arbValue(), (a, b) => {
        assert.equal(sign(compareBytes(encodeValue(a), encodeValue(b))), sign(compareValues(a, b)), `${String(a)} vs ${String(b)}`);
      }),
      { seed: 42, numRuns: 3000 },
    );
  });

  it('complemented encodings order in reverse', () => {
    fc.assert(
      fc.property(arbValue(), arbValue(), (a, b) => {
        assert.equal(sign(compareBytes(complement(encodeValue(a)), complement(encodeValue(b)))), sign(-compareValues(a, b)));
      }),
      { seed: 7, numRuns: 1000 },
    );
  });

  it('strings order by code point (surrogates above U+E000..U+FFFF) and round-trip', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), fc.string({ unit: 'binary' }), (a, b) => {
        assert.equal(sign(compareBytes(encodeValue(a), encodeValue(b))), sign(compareValues(a, b)));
        assert.equal(readValue(encodeValue(a), 0)[0], a);
      }),
      { seed: 3, numRuns: 2000 },
    );
  });

  it('numbers of every kind share one bracket; NaN lowest; -0 == 0', () => {
    const vals = [NaN, -Infinity, -1e300, -5, -0, 0, 1e-300, 3, Long.fromNumber(4), 4.5, Infinity];
    for (let i = 0; i + 1 < vals.length; i++) {
      const c = compareBytes(encodeValue(vals[i]), encodeValue(vals[i + 1]));
      if (Object.is(vals[i], -0)) assert.equal(c, 0);
      else assert.ok(c < 0, `${String(vals[i])} < ${String(vals[i + 1])}`);
    }
  });

  it('decodes what it encodes (scalars and bson types)', () => {
    const vals: unknown[] = [null, true, false, 12.5, 'héllo\u{1F600}', new Date(1234), new ObjectId(), new MinKey(), new MaxKey(), new Timestamp({ t: 5, i: 7 }), new Binary(new Uint8Array([1, 2, 3]), 0), [1, 'a', [2]], { x: 1, y: { z: 'q' } }];
    for (const v of vals) {
      const enc = encodeValue(v);
      const [back, end] = readValue(enc, 0);
      assert.equal(end, enc.length);
      assert.equal(compareValues(back, v), 0);
      const [back2] = readValue(complement(enc), 0, true);
      assert.equal(compareValues(back2, v), 0);
    }
  });
});

describe('bytesKey', () => {
  it('maps bytes to the string of the same char codes and back, at every length (short keys reuse argument lists)', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 5000 }), { maxLength: 6 }), (keys) => {
        const strs = keys.map(bytesKey);
        keys.forEach((k, i) => {
          let want = '';
          for (const c of k) want += String.fromCharCode(c);
          assert.equal(strs[i], want);
          assert.deepEqual(keyBytes(strs[i]!), k);
        });
      }),
      { seed: 3, numRuns: 300 },
    );
  });
});

describe('encodeId fast path', () => {
  it('string _ids encode exactly like the generic value encoding', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 300 }), fc.string({ unit: 'binary', maxLength: 20 }), fc.constantFrom('', '\u007f', '\u0080', 'a\u0000b')), (s) => {
        assert.deepEqual([...encodeId(s)], [...encodeValue(s)]);
      }),
      { seed: 7, numRuns: 500 },
    );
  });
});
