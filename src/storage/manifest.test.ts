import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isLargetableError } from '../errors.ts';
import { decodeManifest, encodeManifest, type ManifestState } from './manifest.ts';

const state: ManifestState = {
  nextFile: 17,
  flushedSeq: 12345,
  l0: [{ file: 9, size: 1000, count: 10, minSeq: 1, maxSeq: 10, smallest: Uint8Array.of(0, 1), largest: Uint8Array.of(255) }],
  l1: [],
  wals: [14, 16],
  walSizes: { '14': 4096 },
};

describe('manifest', () => {
  it('round-trips', () => {
    assert.deepEqual(decodeManifest(encodeManifest(state)), state);
  });
  it('every flipped bit and every truncation is refused, naming the file', () => {
    const bytes = encodeManifest(state);
    for (let i = 0; i < bytes.length; i++) {
      const bad = bytes.slice();
      bad[i]! ^= 1 << (i % 8);
      assert.throws(() => decodeManifest(bad, 'MANIFEST'), (e) => (isLargetableError(e, 'CORRUPTION') || isLargetableError(e, 'UNSUPPORTED_FORMAT')) && e.details['file'] === 'MANIFEST', `flip at ${i}`);
    }
    for (let n = 0; n < bytes.length; n++) assert.throws(() => decodeManifest(bytes.subarray(0, n)), (e) => isLargetableError(e, 'CORRUPTION'));
  });
  it('older and newer format versions are UNSUPPORTED_FORMAT', () => {
    for (const v of [0, 2]) {
      const bad = encodeManifest(state);
      bad[4] = v;
      assert.throws(() => decodeManifest(bad), (e) => isLargetableError(e, 'UNSUPPORTED_FORMAT') && e.details['offset'] === 4);
    }
  });
});
