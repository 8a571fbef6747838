import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isLargetableError } from '../../src/errors.ts';
import { all, runs } from './setup.ts';
import { crc32cResidue } from '../../src/storage/checksum.ts';

/** Bitwise CRC-32C, the definition (independent of every table-driven build). */
function crcBitwise(bytes: Uint8Array, crc = 0): number {
  let c = ~crc >>> 0;
  for (const b of bytes) {
    c ^= b;
    for (let i = 0; i < 8; i++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  }
  return ~c >>> 0;
}

describe('crc32c', () => {
  it('matches the check value and the bitwise definition', () => {
    const check = new TextEncoder().encode('123456789');
    for (const k of all) {
      assert.equal(k.crc32c(check), 0xe3069283, k.build);
      assert.equal(k.crc32c(new Uint8Array(0)), 0, k.build);
      assert.equal(k.crc32c(new Uint8Array(32)), 0x8a9136aa, k.build); // RFC 3720 B.4: 32 zero bytes
    }
  });

  it('agrees with the bitwise CRC on random bytes and continues across splits', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 700 }), fc.nat(), fc.integer({ min: 0, max: 7 }), (bytes, cut, skew) => {
        const buf = new Uint8Array(bytes.length + skew);
        buf.set(bytes, skew);
        const view = buf.subarray(skew);
        const expected = crcBitwise(bytes);
        const at = bytes.length === 0 ? 0 : cut % bytes.length;
        for (const k of all) {
          assert.equal(k.crc32c(view), expected, k.build);
          assert.equal(k.crc32c(view.subarray(at), k.crc32c(view.subarray(0, at))), expected, `${k.build} split`);
        }
      }),
      runs,
    );
  });

  it('of a range: the CRC of those bytes alone (small and large ranges, of small and large arrays), continuing from crc', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 9000 }), fc.nat(), fc.nat(), fc.nat(), (bytes, a, b, c) => {
        const start = a % bytes.length;
        const end = start + (b % (bytes.length - start + 1));
        const crc = crcBitwise(bytes.subarray(0, c % (start + 1)));
        const expected = crcBitwise(bytes.subarray(start, end), crc);
        for (const k of all) assert.equal(k.crc32c(bytes, crc, start, end), expected, `${k.build} [${start}, ${end}) of ${bytes.length}`);
      }),
      { ...runs, numRuns: 60 },
    );
    for (const k of all) {
      for (const [s, e] of [[-1, 2], [3, 2], [0, 5], [1.5, 2]] as const) {
        assert.throws(() => k.crc32c(new Uint8Array(4), 0, s, e), (err: unknown) => isLargetableError(err) && err.code === 'INVALID_ARGUMENT', `${k.build} [${s}, ${e})`);
      }
    }
  });
});

describe('crc32c of data with its own crc appended', () => {
  it('is the residue exactly when the appended crc is right (any one flipped bit, in the data or the crc, changes it)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(), (bytes, flip) => {
        const buf = new Uint8Array(bytes.length + 4);
        buf.set(bytes);
        new DataView(buf.buffer).setUint32(bytes.length, crcBitwise(bytes), true);
        const bit = flip % (buf.length * 8);
        for (const k of all) {
          assert.equal(k.crc32c(buf), crc32cResidue, k.build);
          buf[bit >> 3]! ^= 1 << (bit & 7);
          assert.notEqual(k.crc32c(buf), crc32cResidue, `${k.build} bit ${bit}`);
          buf[bit >> 3]! ^= 1 << (bit & 7);
        }
      }),
      runs,
    );
  });

  it('inputs that outgrow the kernels\' scratch block (small, 70 KB, 1.5 MB, small again) agree with the bitwise CRC', () => {
    for (const n of [10, 9000, 70_000, 1_500_000, 33]) {
      const bytes = new Uint8Array(n);
      for (let i = 0; i < n; i++) bytes[i] = (i * 2654435761) >>> 24;
      const expected = crcBitwise(bytes);
      for (const k of all) assert.equal(k.crc32c(bytes), expected, `${k.build} ${n}`);
    }
  });
});

/**
 * The segment block checksum of format version 2 as docs/FORMAT.md states it, written plainly
 * (lanes as an array, u32 arithmetic through BigInt-free Math.imul), independent of the builds' loops.
 */
function blockSumSpec(bytes: Uint8Array): number {
  const P1 = 0x9e3779b1, P2 = 0x85ebca77, P3 = 0xc2b2ae3d, P4 = 0x27d4eb2f, P5 = 0x165667b1;
  const u32 = (x: number): number => x >>> 0;
  const mul = (a: number, b: number): number => u32(Math.imul(a, b));
  const rotl = (x: number, r: number): number => u32((x << r) | (x >>> (32 - r)));
  const word = (i: number): number => u32(bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24));
  const n = bytes.length;
  let h = mul(n, P5);
  let i = 0;
  if (n >= 128) {
    const base = [u32(P1 + P2), P2, 0, u32(-P1)];
    const lanes = Array.from({ length: 32 }, (_, w) => u32(base[w % 4]! + Math.floor(w / 4)));
    for (; i + 128 <= n; i += 128) for (let w = 0; w < 32; w++) lanes[w] = mul(rotl(u32(lanes[w]! + mul(word(i + 4 * w), P2)), 13), P1);
    h = u32(h ^ lanes[0]!);
    for (let w = 1; w < 32; w++) h = u32(mul(rotl(h, 13), P1) + lanes[w]!);
  }
  for (; i + 4 <= n; i += 4) h = mul(rotl(u32(h + mul(word(i), P3)), 17), P4);
  for (; i < n; i++) h = mul(rotl(u32(h + mul(bytes[i]!, P5)), 11), P1);
  h = mul(h ^ (h >>> 15), P2);
  h = mul(h ^ (h >>> 13), P3);
  return u32(h ^ (h >>> 16));
}

describe('blockSum', () => {
  it('pinned values (stored in version 2 segments: a change here breaks every such file)', () => {
    const pattern = (n: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 2654435761) >>> 24);
    const cases: [Uint8Array, number][] = [
      [new Uint8Array(0), 0],
      [new TextEncoder().encode('123456789'), 0xe85db800],
      [pattern(8192), 0x1a659173],
    ];
    for (const [b, v] of cases) assert.equal(blockSumSpec(b), v, `spec ${b.length}`);
    for (const k of all) for (const [b, v] of cases) assert.equal(k.blockSum(b), v, `${k.build} ${b.length}`);
  });

  it('every build agrees with the spec on random bytes (lengths around the 128-byte stripes, unaligned)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 1100 }), fc.integer({ min: 0, max: 15 }), (bytes, skew) => {
        const buf = new Uint8Array(bytes.length + skew);
        buf.set(bytes, skew);
        const view = buf.subarray(skew);
        const expected = blockSumSpec(bytes);
        // with a length: the sum of that prefix (a block's check, its stored sum left out)
        const cut = bytes.length === 0 ? 0 : skew % (bytes.length + 1);
        const prefix = blockSumSpec(bytes.subarray(0, cut));
        for (const k of all) {
          assert.equal(k.blockSum(view), expected, `${k.build} ${bytes.length}`);
          assert.equal(k.blockSum(view, cut), prefix, `${k.build} ${bytes.length} prefix ${cut}`);
        }
      }),
      runs,
    );
  });

  it('any one flipped bit changes it (short data and an 8 KiB block)', () => {
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.uint8Array({ minLength: 8192, maxLength: 8192 })), fc.nat(), (bytes, flip) => {
        if (bytes.length === 0) return;
        const sum = blockSumSpec(bytes);
        const bit = flip % (bytes.length * 8);
        bytes[bit >> 3]! ^= 1 << (bit & 7);
        for (const k of all) assert.notEqual(k.blockSum(bytes), sum, `${k.build} bit ${bit}`);
      }),
      runs,
    );
  });

  it('refuses a length outside the bytes', () => {
    for (const k of all) {
      for (const len of [-1, 5, 1.5, NaN]) assert.throws(() => k.blockSum(new Uint8Array(4), len), (e: unknown) => isLargetableError(e) && e.code === 'INVALID_ARGUMENT', `${k.build} ${len}`);
    }
  });

  it('inputs that outgrow the kernels\' scratch block agree with the spec', () => {
    for (const n of [10, 9000, 70_000, 1_500_000, 33]) {
      const bytes = new Uint8Array(n);
      for (let i = 0; i < n; i++) bytes[i] = (i * 2654435761) >>> 24;
      const expected = blockSumSpec(bytes);
      for (const k of all) {
        assert.equal(k.blockSum(bytes), expected, `${k.build} ${n}`);
        assert.equal(k.blockSum(bytes, n - 4), blockSumSpec(bytes.subarray(0, n - 4)), `${k.build} ${n} - 4`);
      }
    }
  });
});

const u32Arrays = fc.oneof(
  fc.array(fc.integer({ min: 0, max: 0xffffffff }), { maxLength: 700 }),
  // sorted ids: the common case (small deltas)
  fc.array(fc.integer({ min: 0, max: 1000 }), { maxLength: 700 }).map((xs) => {
    let acc = 0;
    return xs.map((x) => (acc = (acc + x) >>> 0));
  }),
  fc.array(fc.constantFrom(0, 1, 0xffffffff, 0x80000000, 0x7fffffff), { maxLength: 300 }),
  fc.integer({ min: 0, max: 1000 }).map((n) => new Array<number>(n).fill(7)),
);

const i64Arrays = fc.oneof(
  fc.array(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), { maxLength: 300 }),
  fc.array(fc.bigInt({ min: 0n, max: 5000n }), { maxLength: 400 }).map((xs) => {
    let acc = 1_700_000_000_000n;
    return xs.map((x) => (acc += x));
  }),
  fc.array(fc.constantFrom(0n, -1n, 2n ** 63n - 1n, -(2n ** 63n), 1n), { maxLength: 300 }),
);

describe('zigzag-delta bit-pack codecs', () => {
  it('u32: identical bytes in all builds and exact round trip', () => {
    fc.assert(
      fc.property(u32Arrays, (xs) => {
        const values = Uint32Array.from(xs);
        const encoded = all.map((k) => k.encodeU32(values));
        assert.deepEqual(encoded[1], encoded[0], 'scalar bytes');
        assert.deepEqual(encoded[2], encoded[0], 'simd bytes');
        for (const k of all) assert.deepEqual(k.decodeU32(encoded[0]!), values, `${k.build} decode`);
      }),
      runs,
    );
  });

  it('i64: identical bytes in all builds and exact round trip', () => {
    fc.assert(
      fc.property(i64Arrays, (xs) => {
        const values = BigInt64Array.from(xs);
        const encoded = all.map((k) => k.encodeI64(values));
        assert.deepEqual(encoded[1], encoded[0], 'scalar bytes');
        assert.deepEqual(encoded[2], encoded[0], 'simd bytes');
        for (const k of all) assert.deepEqual(k.decodeI64(encoded[0]!), values, `${k.build} decode`);
      }),
      runs,
    );
  });

  it('small deltas pack small: 10k sorted ids with step <= 15 take about 5 bits each', () => {
    const values = Uint32Array.from({ length: 10_000 }, (_, i) => i * 15);
    for (const k of all) {
      const bytes = k.encodeU32(values);
      assert.ok(bytes.length < 10_000 * 5 / 8 + 200, `${k.build}: ${bytes.length} bytes`);
      assert.equal(bytes[0], 1);
      assert.equal(bytes[1], 1);
    }
  });

  it('corrupt, truncated and foreign input is refused with a code, never decoded wrongly', () => {
    const good = all[0]!.encodeU32(Uint32Array.from({ length: 300 }, (_, i) => i * i));
    const goodI64 = all[0]!.encodeI64(BigInt64Array.from([1n, 2n, 3n]));
    for (const k of all) {
      const code = (c: string) => (e: unknown) => isLargetableError(e, c as 'CORRUPTION');
      assert.throws(() => k.decodeU32(good.subarray(0, good.length - 1)), code('CORRUPTION'));
      assert.throws(() => k.decodeU32(Uint8Array.from([...good, 0])), code('CORRUPTION'));
      assert.throws(() => k.decodeU32(good.subarray(0, 3)), code('CORRUPTION'));
      const v2 = good.slice();
      v2[0] = 2;
      assert.throws(() => k.decodeU32(v2), code('UNSUPPORTED_FORMAT'));
      assert.throws(() => k.decodeU32(goodI64), code('CORRUPTION'));
      assert.throws(() => k.decodeI64(good), code('CORRUPTION'));
      const wide = good.slice();
      wide[6] = 33; // first block width
      assert.throws(() => k.decodeU32(wide), code('CORRUPTION'));
      const huge = good.slice();
      huge[5] = 0x7f; // count far beyond what the bytes can hold
      assert.throws(() => k.decodeU32(huge), code('CORRUPTION'));
    }
  });

  it('random byte mutations either decode identically in all builds or fail the same way', () => {
    const base = all[0]!.encodeU32(Uint32Array.from({ length: 260 }, (_, i) => (i * 2654435761) >>> 0));
    fc.assert(
      fc.property(fc.nat(base.length - 1), fc.integer({ min: 0, max: 255 }), (at, byte) => {
        const bytes = base.slice();
        bytes[at] = byte;
        const results = all.map((k) => {
          try {
            return Array.from(k.decodeU32(bytes)).join(',');
          } catch (e) {
            return isLargetableError(e) ? `error:${e.code}` : `crash:${String(e)}`;
          }
        });
        assert.equal(results[1], results[0]);
        assert.equal(results[2], results[0]);
      }),
      runs,
    );
  });
});
