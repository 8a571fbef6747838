import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { deflateSync, inflateSync } from 'fflate';
import { DeflateEncoder, InflateError, Inflater } from './deflate.ts';

/** Segment-block-like bytes: sorted keys, repeated values, varints. */
function blockLike(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    const r = x >>> 0;
    out[i] = i % 128 < 16 ? r & 255 : i % 128 < 70 ? (i >> 7) & 255 : r % 3;
  }
  return out;
}

describe('DeflateEncoder', () => {
  it('writes the same bytes as fflate deflateSync, and they inflate back (fixed cases)', () => {
    const enc = new DeflateEncoder();
    const cases: Uint8Array[] = [new Uint8Array(0), new Uint8Array(1), new Uint8Array([7, 7]), new Uint8Array(100000).fill(9)];
    for (const n of [3, 17, 300, 4096, 16 * 1024, 24 * 1024, 70000, 200000]) for (const seed of [1, 99]) cases.push(blockLike(n, seed));
    const rnd = new Uint8Array(50000);
    for (let i = 0; i < rnd.length; i++) rnd[i] = (Math.imul(i, 2654435761) >>> 13) & 255;
    cases.push(rnd);
    for (const dat of cases)
      for (const level of [1, 4, 6, 9]) {
        const ours = enc.deflate(dat, level).slice();
        assert.deepEqual(ours, deflateSync(dat, { level: level as 1 }), `n=${dat.length} level=${level}`);
        assert.deepEqual(inflateSync(ours), dat);
      }
  });

  it('equals fflate on arbitrary inputs, one encoder reused across calls', () => {
    const enc = new DeflateEncoder();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3000 }), fc.integer({ min: 1, max: 9 }), fc.integer({ min: 0, max: 4 }), (dat, level, rep) => {
        // repetition makes matches; the raw array covers literals and short inputs
        const input = new Uint8Array(dat.length * (rep + 1));
        for (let r = 0; r <= rep; r++) input.set(dat, r * dat.length);
        const ours = enc.deflate(input, level);
        assert.deepEqual(ours.slice(), deflateSync(input, { level: level as 1 }));
        assert.deepEqual(inflateSync(ours), input);
      }),
      { numRuns: 300 },
    );
  });

  it('Inflater decodes what fflate and DeflateEncoder write (stored, fixed and dynamic blocks), reused across calls', () => {
    const inf = new Inflater();
    const enc = new DeflateEncoder();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3000 }), fc.integer({ min: 0, max: 9 }), fc.integer({ min: 0, max: 30 }), (dat, level, rep) => {
        const input = new Uint8Array(dat.length * (rep + 1));
        for (let r = 0; r <= rep; r++) input.set(dat, r * dat.length);
        for (const z of [deflateSync(input, { level: level as 1 }), level > 0 ? enc.deflate(input, level).slice() : null]) {
          if (z === null) continue;
          const out = new Uint8Array(input.length + 8).fill(0xa5);
          assert.equal(inf.inflate(z, out, input.length), input.length);
          assert.deepEqual(out.subarray(0, input.length), input);
          assert.ok(out.subarray(input.length).every((x) => x === 0xa5), 'nothing written past outLen');
          if (input.length > 0) assert.throws(() => inf.inflate(z, out, input.length - 1), InflateError);
        }
      }),
      { numRuns: 300 },
    );
    for (const n of [16 * 1024, 70000, 200000]) {
      const dat = blockLike(n, 5);
      const out = new Uint8Array(n);
      assert.equal(inf.inflate(enc.deflate(dat, 1), out, n), n);
      assert.deepEqual(out, dat);
    }
  });

  it('Inflater refuses damaged input with InflateError, never writing past the output length', () => {
    const inf = new Inflater();
    const dat = blockLike(16 * 1024, 3);
    const z = deflateSync(dat, { level: 1 });
    fc.assert(
      fc.property(fc.nat(z.length * 8 - 1), fc.nat(z.length), (bit, cut) => {
        const bad = z.slice(0, Math.max(1, cut === 0 ? z.length : cut));
        if (bit >>> 3 < bad.length) bad[bit >>> 3]! ^= 1 << (bit & 7);
        const out = new Uint8Array(dat.length + 16).fill(0xa5);
        try {
          const n = inf.inflate(bad, out, dat.length);
          assert.ok(n <= dat.length);
        } catch (err) {
          assert.ok(err instanceof InflateError, String(err));
        }
        assert.ok(out.subarray(dat.length).every((x) => x === 0xa5));
      }),
      { numRuns: 500 },
    );
  });
});
