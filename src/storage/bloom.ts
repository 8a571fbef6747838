/** Bloom filter over keys: 10 bits per key, 7 probes by double hashing of one 32-bit hash. */

export const bloomBitsPerKey = 10;
export const bloomProbes = 7;

/** 32-bit hash of a key (murmur3-style mixing, 4 bytes at a time). */
export function hashKey(key: Uint8Array, start = 0, end = key.length): number {
  return hashKey32(key, start, end) >>> 0;
}

/**
 * `hashKey` as a signed 32-bit integer (`hashKey(k) | 0`). Every intermediate value stays a
 * small integer: unoptimized code (a fresh process's first writes) boxes each number outside
 * that range in a heap object (an add of 0xe6546b64 per 4 bytes of key was ~400 bytes of
 * garbage per inserted document).
 */
export function hashKey32(key: Uint8Array, start = 0, end = key.length): number {
  let h = 0x9747b28c ^ (end - start);
  let i = start;
  for (; i + 4 <= end; i += 4) {
    let k = key[i]! | (key[i + 1]! << 8) | (key[i + 2]! << 16) | (key[i + 3]! << 24);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) - 0x19ab949c) | 0; // + 0xe6546b64, modulo 2^32
  }
  let k = 0;
  switch (end - i) {
    case 3:
      k ^= key[i + 2]! << 16;
    // falls through
    case 2:
      k ^= key[i + 1]! << 8;
    // falls through
    case 1:
      k ^= key[i]!;
      k = Math.imul(k, 0xcc9e2d51);
      k = (k << 15) | (k >>> 17);
      k = Math.imul(k, 0x1b873593);
      h ^= k;
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h;
}

/** Builds the bit array for `n` hashes (at least 64 bits). */
export function buildBloom(hashes: Uint32Array, n: number): Uint8Array {
  const bits = Math.max(64, n * bloomBitsPerKey);
  const bytes = new Uint8Array((bits + 7) >>> 3);
  const nbits = (bytes.length * 8) >>> 0; // uint32 (with h): an integer modulo, not a float one
  for (let i = 0; i < n; i++) {
    let h = hashes[i]!;
    const delta = ((h >>> 17) | (h << 15)) >>> 0;
    for (let j = 0; j < bloomProbes; j++) {
      const b = h % nbits;
      bytes[b >>> 3]! |= 1 << (b & 7);
      h = (h + delta) >>> 0;
    }
  }
  return bytes;
}

export function bloomMayContain(bits: Uint8Array, hash: number): boolean {
  const nbits = (bits.length * 8) >>> 0; // uint32 (with h): an integer modulo, not a float one
  let h = hash >>> 0;
  const delta = ((h >>> 17) | (h << 15)) >>> 0;
  for (let j = 0; j < bloomProbes; j++) {
    const b = h % nbits;
    if ((bits[b >>> 3]! & (1 << (b & 7))) === 0) return false;
    h = (h + delta) >>> 0;
  }
  return true;
}

/**
 * The bytes that `bloomMayContain`'s first two probes of `hash` read, xor'ed (a use, so the loads
 * stay): reads them into the CPU's caches ahead of a lookup. 0 for an empty filter.
 */
export function bloomTouch(bits: Uint8Array, hash: number): number {
  const nbits = (bits.length * 8) >>> 0;
  if (nbits === 0) return 0;
  const h = hash >>> 0;
  const b0 = h % nbits;
  const b1 = ((h + (((h >>> 17) | (h << 15)) >>> 0)) >>> 0) % nbits;
  return bits[b0 >>> 3]! ^ bits[b1 >>> 3]!;
}

/** An empty bit array sized for up to `n` keys (filled with `bloomAdd`). */
export function newBloom(n: number): Uint8Array {
  return new Uint8Array((Math.max(64, n * bloomBitsPerKey) + 7) >>> 3);
}

export function bloomAdd(bytes: Uint8Array, hash: number): void {
  const nbits = (bytes.length * 8) >>> 0; // uint32 (with h): an integer modulo, not a float one
  let h = hash >>> 0;
  const delta = ((h >>> 17) | (h << 15)) >>> 0;
  for (let j = 0; j < bloomProbes; j++) {
    const b = h % nbits;
    bytes[b >>> 3]! |= 1 << (b & 7);
    h = (h + delta) >>> 0;
  }
}
