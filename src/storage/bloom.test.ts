import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { bloomAdd, bloomMayContain, bloomProbes, buildBloom, newBloom } from './bloom.ts';

/** The bit positions of a key hash, computed plainly (BigInt): what segments on disk hold (docs/FORMAT.md). */
function positions(hash: number, nbits: number): number[] {
  const out: number[] = [];
  let h = BigInt(hash);
  const delta = BigInt(((hash >>> 17) | (hash << 15)) >>> 0);
  for (let j = 0; j < bloomProbes; j++) {
    out.push(Number(h % BigInt(nbits)));
    h = (h + delta) % 2n ** 32n;
  }
  return out;
}

describe('bloom filter', () => {
  it('sets and tests the bit positions of the format for any uint32 hash (above 2^31 too) and filter size', () => {
    fc.assert(
      fc.property(fc.array(fc.nat(0xffffffff), { minLength: 1, maxLength: 40 }), fc.integer({ min: 1, max: 5000 }), (hashes, n) => {
        const a = newBloom(n);
        const nbits = a.length * 8;
        for (const h of hashes) bloomAdd(a, h);
        const want = new Uint8Array(a.length);
        for (const h of hashes) for (const b of positions(h, nbits)) want[b >>> 3]! |= 1 << (b & 7);
        assert.deepEqual(a, want);
        const built = buildBloom(Uint32Array.from(hashes), hashes.length);
        const wantBuilt = new Uint8Array(built.length);
        for (const h of hashes) for (const b of positions(h, built.length * 8)) wantBuilt[b >>> 3]! |= 1 << (b & 7);
        assert.deepEqual(built, wantBuilt);
        for (const h of hashes) assert.ok(bloomMayContain(a, h) && bloomMayContain(built, h));
        // a hash whose positions are not all set is refused
        const other = (hashes[0]! ^ 0x5bd1e995) >>> 0;
        assert.equal(bloomMayContain(a, other), positions(other, nbits).every((b) => (want[b >>> 3]! & (1 << (b & 7))) !== 0));
      }),
      { seed: 5, numRuns: 300 },
    );
  });
});
