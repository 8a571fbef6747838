/**
 * The TypeScript twin of every kernel in assembly/kernels.ts: the fallback when WebAssembly is
 * unavailable and the oracle of the differential tests. Float kernels emulate the scalar wasm
 * build exactly (f32 arithmetic via Math.fround, same summation order), so scalar wasm and this
 * twin agree bit for bit; the SIMD build sums in a different order and agrees within rounding.
 * Integer kernels, top-k, crc32c and the codecs are exact in all three builds.
 */
import { LargetableError } from '../errors.ts';
import { standaloneArena } from './arena.ts';
import type { Kernels, Metric, TopK } from './types.ts';
import {
  checkBlockPtrArgs,
  checkCodecHeader,
  checkCount,
  checkGatherPtrArgs,
  checkI8PtrArgs,
  checkI8ScoreArgs,
  checkK,
  checkNormsArgs,
  checkQuantizeI8Args,
  checkQueries,
  checkScore,
  checkTopKPtrArgs,
  codecBlockValues,
  codecHeaderBytes,
  codecKindI64,
  codecKindU32,
  codecVersion,
  corrupt,
  checkSumLength,
  checkCrcRange,
} from './validate.ts';

const fr = Math.fround;

// ------------------------------------------------------------------ scores (offset-based cores)

export function dotAt(q: Float32Array, qo: number, v: Float32Array, vo: number, d: number): number {
  let s = 0;
  for (let j = 0; j < d; j++) s = fr(s + fr(q[qo + j]! * v[vo + j]!));
  return s;
}

export function l2At(q: Float32Array, qo: number, v: Float32Array, vo: number, d: number): number {
  let s = 0;
  for (let j = 0; j < d; j++) {
    const t = fr(q[qo + j]! - v[vo + j]!);
    s = fr(s + fr(t * t));
  }
  return s;
}

export function l1At(q: Float32Array, qo: number, v: Float32Array, vo: number, d: number): number {
  let s = 0;
  for (let j = 0; j < d; j++) s = fr(s + Math.abs(fr(q[qo + j]! - v[vo + j]!)));
  return s;
}

function cosOf(dot: number, qn: number, vn: number): number {
  return qn === 0 || vn === 0 ? 0 : fr(dot / fr(qn * vn));
}

function scoreOne(code: number, q: Float32Array, qo: number, qn: number, v: Float32Array, vo: number, d: number, vn: number): number {
  switch (code) {
    case 0:
      return dotAt(q, qo, v, vo, d);
    case 1:
      return l2At(q, qo, v, vo, d);
    case 2:
      return cosOf(dotAt(q, qo, v, vo, d), qn, vn);
    default:
      return l1At(q, qo, v, vo, d);
  }
}

function blockInto(
  code: number, q: Float32Array, qo: number, v: Float32Array, vo: number, n: number, d: number,
  out: Float32Array, oo: number, norms: Float32Array | undefined, no: number,
): void {
  const qn = code === 2 ? fr(Math.sqrt(dotAt(q, qo, q, qo, d))) : 0;
  for (let i = 0; i < n; i++) {
    out[oo + i] = scoreOne(code, q, qo, qn, v, vo + i * d, d, code === 2 ? norms![no + i]! : 0);
  }
}

function normsInto(v: Float32Array, vo: number, n: number, d: number, out: Float32Array, oo: number): void {
  for (let i = 0; i < n; i++) out[oo + i] = fr(Math.sqrt(dotAt(v, vo + i * d, v, vo + i * d, d)));
}

// ------------------------------------------------------------------ top-k

function better(sa: number, ia: number, sb: number, ib: number, higher: boolean): boolean {
  if (sa === sb) return ia < ib;
  return higher ? sa > sb : sa < sb;
}

function siftDown(hs: Float32Array, hi: Uint32Array, start: number, size: number, higher: boolean): void {
  let i = start;
  const s = hs[i]!;
  const x = hi[i]!;
  for (;;) {
    const l = 2 * i + 1;
    if (l >= size) break;
    let c = l;
    let cs = hs[l]!;
    let ci = hi[l]!;
    const r = l + 1;
    if (r < size && better(cs, ci, hs[r]!, hi[r]!, higher)) {
      c = r;
      cs = hs[r]!;
      ci = hi[r]!;
    }
    if (!better(s, x, cs, ci, higher)) break;
    hs[i] = cs;
    hi[i] = ci;
    i = c;
  }
  hs[i] = s;
  hi[i] = x;
}

function siftUp(hs: Float32Array, hi: Uint32Array, pos: number, higher: boolean): void {
  let i = pos;
  const s = hs[i]!;
  const x = hi[i]!;
  while (i > 0) {
    const p = (i - 1) >> 1;
    if (!better(hs[p]!, hi[p]!, s, x, higher)) break;
    hs[i] = hs[p]!;
    hi[i] = hi[p]!;
    i = p;
  }
  hs[i] = s;
  hi[i] = x;
}

/** Top-k over scores (NaN skipped), best first, ties by lower index. Same algorithm as the wasm. */
export function topKReference(scores: Float32Array, k: number, higher: boolean): TopK {
  const hs = new Float32Array(k);
  const hi = new Uint32Array(k);
  const n = scores.length;
  let size = 0;
  let i = 0;
  for (; i < n && size < k; i++) {
    const s = scores[i]!;
    if (s !== s) continue;
    hs[size] = s;
    hi[size] = i;
    siftUp(hs, hi, size, higher);
    size++;
  }
  let worst = hs[0]!;
  for (; i < n; i++) {
    const s = scores[i]!;
    if (higher ? s > worst : s < worst) {
      hs[0] = s;
      hi[0] = i;
      siftDown(hs, hi, 0, size, higher);
      worst = hs[0]!;
    }
  }
  for (let end = size - 1; end > 0; end--) {
    const s0 = hs[0]!;
    const i0 = hi[0]!;
    hs[0] = hs[end]!;
    hi[0] = hi[end]!;
    hs[end] = s0;
    hi[end] = i0;
    siftDown(hs, hi, 0, end, higher);
  }
  return { indices: hi.slice(0, size), scores: hs.slice(0, size) };
}

// ------------------------------------------------------------------ int8

function roundEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 ? 2 * Math.round(x / 2) : r;
}

export function quantizeI8Into(v: Float32Array, n: number, d: number, min: Float32Array, scale: Float32Array, out: Int8Array): void {
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) {
      let x = fr(fr(fr(v[i * d + j]! - min[j]!) / scale[j]!) - 128);
      if (x !== x) {
        out[i * d + j] = 0;
        continue;
      }
      x = roundEven(x);
      out[i * d + j] = x < -128 ? -128 : x > 127 ? 127 : x;
    }
  }
}

function dotI8Into(q: Int8Array, codes: Int8Array, n: number, d: number, out: Float32Array): void {
  for (let i = 0; i < n; i++) {
    let s = 0;
    const o = i * d;
    for (let j = 0; j < d; j++) s += q[j]! * codes[o + j]!;
    out[i] = s;
  }
}

function l2I8Into(q: Int8Array, codes: Int8Array, n: number, d: number, out: Float32Array): void {
  for (let i = 0; i < n; i++) {
    let s = 0;
    const o = i * d;
    for (let j = 0; j < d; j++) {
      const t = q[j]! - codes[o + j]!;
      s += t * t;
    }
    out[i] = s;
  }
}

// ------------------------------------------------------------------ crc32c (slicing-by-8)

const crcTables = (() => {
  const t = new Uint32Array(8 * 256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let b = 0; b < 8; b++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[i] = c >>> 0;
  }
  for (let i = 0; i < 256; i++) {
    let c = t[i]!;
    for (let k = 1; k < 8; k++) {
      c = (c >>> 8) ^ t[c & 0xff]!;
      t[k * 256 + i] = c >>> 0;
    }
  }
  return t;
})();

// ------------------------------------------------------------------ blockSum (assembly/kernels.ts)

const sumP1 = 0x9e3779b1;
const sumP2 = 0x85ebca77;
const sumP3 = 0xc2b2ae3d;
const sumP4 = 0x27d4eb2f;
const sumP5 = 0x165667b1;
const sumAcc = new Int32Array(32);

/** The segment block checksum (format version 2): the same 32 lanes as the wasm kernel, one word at a time. */
export function blockSumReference(bytes: Uint8Array, n = bytes.length): number {
  let h = Math.imul(n, sumP5);
  let i = 0;
  if (n >= 128) {
    const acc = sumAcc;
    for (let w = 0; w < 32; w++) {
      const l = w & 3;
      acc[w] = (l === 0 ? sumP1 + sumP2 : l === 1 ? sumP2 : l === 2 ? 0 : -sumP1) + (w >> 2);
    }
    for (; i + 128 <= n; i += 128) {
      for (let w = 0, q = i; w < 32; w++, q += 4) {
        const a = (acc[w]! + Math.imul(bytes[q]! | (bytes[q + 1]! << 8) | (bytes[q + 2]! << 16) | (bytes[q + 3]! << 24), sumP2)) | 0;
        acc[w] = Math.imul((a << 13) | (a >>> 19), sumP1);
      }
    }
    h ^= acc[0]!;
    for (let w = 1; w < 32; w++) h = (Math.imul((h << 13) | (h >>> 19), sumP1) + acc[w]!) | 0;
  }
  for (; i + 4 <= n; i += 4) {
    const a = (h + Math.imul(bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24), sumP3)) | 0;
    h = Math.imul((a << 17) | (a >>> 15), sumP4);
  }
  for (; i < n; i++) {
    const a = (h + Math.imul(bytes[i]!, sumP5)) | 0;
    h = Math.imul((a << 11) | (a >>> 21), sumP1);
  }
  h ^= h >>> 15;
  h = Math.imul(h, sumP2);
  h ^= h >>> 13;
  h = Math.imul(h, sumP3);
  h ^= h >>> 16;
  return h >>> 0;
}

export function crc32cReference(bytes: Uint8Array, crc = 0): number {
  const t = crcTables;
  let c = ~crc >>> 0;
  const n = bytes.length;
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    const a = (bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24)) ^ c;
    const b = bytes[i + 4]! | (bytes[i + 5]! << 8) | (bytes[i + 6]! << 16) | (bytes[i + 7]! << 24);
    c =
      t[1792 + (a & 0xff)]! ^ t[1536 + ((a >>> 8) & 0xff)]! ^ t[1280 + ((a >>> 16) & 0xff)]! ^ t[1024 + (a >>> 24)]! ^
      t[768 + (b & 0xff)]! ^ t[512 + ((b >>> 8) & 0xff)]! ^ t[256 + ((b >>> 16) & 0xff)]! ^ t[b >>> 24]!;
  }
  for (; i < n; i++) c = (c >>> 8) ^ t[(c ^ bytes[i]!) & 0xff]!;
  return ~c >>> 0;
}

// ------------------------------------------------------------------ codecs

function widthOf(x: number): number {
  return 32 - Math.clz32(x);
}

function writeHeader(out: Uint8Array, kind: number, n: number): void {
  out[0] = codecVersion;
  out[1] = kind;
  out[2] = n & 0xff;
  out[3] = (n >>> 8) & 0xff;
  out[4] = (n >>> 16) & 0xff;
  out[5] = (n >>> 24) & 0xff;
}

/** LSB-first bit writer over bytes. */
class BitWriter {
  acc = 0n;
  bits = 0n;
  o: number;
  readonly out: Uint8Array;
  constructor(out: Uint8Array, o: number) {
    this.out = out;
    this.o = o;
  }
  put(value: bigint, w: number): void {
    this.acc |= value << this.bits;
    this.bits += BigInt(w);
    while (this.bits >= 8n) {
      this.out[this.o++] = Number(this.acc & 0xffn);
      this.acc >>= 8n;
      this.bits -= 8n;
    }
  }
  flush(): number {
    if (this.bits > 0n) this.out[this.o++] = Number(this.acc & 0xffn);
    this.acc = 0n;
    this.bits = 0n;
    return this.o;
  }
}

function readBits(bytes: Uint8Array, pos: number, w: number): number {
  // w <= 32; gather up to 5 bytes
  let v = 0;
  let got = 0;
  let byte = pos >>> 3;
  let shift = pos & 7;
  while (got < w) {
    const b = (bytes[byte] ?? 0) >>> shift;
    const take = Math.min(8 - shift, w - got);
    v += (b & ((1 << take) - 1)) * 2 ** got;
    got += take;
    byte++;
    shift = 0;
  }
  return v;
}

export function encodeU32Reference(values: Uint32Array): Uint8Array {
  const n = values.length;
  const out = new Uint8Array(codecHeaderBytes + Math.ceil(n / codecBlockValues) * 513);
  writeHeader(out, codecKindU32, n);
  let o = codecHeaderBytes;
  let prev = 0;
  const zz = new Uint32Array(codecBlockValues);
  for (let b = 0; b < n; b += codecBlockValues) {
    const m = Math.min(codecBlockValues, n - b);
    let all = 0;
    for (let i = 0; i < m; i++) {
      const cur = values[b + i]!;
      const d = (cur - prev) | 0;
      const z = ((d << 1) ^ (d >> 31)) >>> 0;
      zz[i] = z;
      all |= z;
      prev = cur;
    }
    const w = widthOf(all >>> 0);
    out[o++] = w;
    if (w === 0) continue;
    if (m < codecBlockValues) {
      const bw = new BitWriter(out, o);
      for (let i = 0; i < m; i++) bw.put(BigInt(zz[i]!), w);
      o = bw.flush();
      continue;
    }
    const words = new Uint32Array(4 * w);
    for (let j = 0; j < 4; j++) {
      let acc = 0;
      let off = 0;
      let wi = j;
      for (let k = 0; k < 32; k++) {
        const x = zz[4 * k + j]!;
        acc |= off < 32 ? x << off : 0;
        off += w;
        if (off >= 32) {
          words[wi] = acc >>> 0;
          wi += 4;
          off -= 32;
          acc = off > 0 ? x >>> (w - off) : 0;
        }
      }
    }
    for (let i = 0; i < words.length; i++) {
      const x = words[i]!;
      out[o++] = x & 0xff;
      out[o++] = (x >>> 8) & 0xff;
      out[o++] = (x >>> 16) & 0xff;
      out[o++] = x >>> 24;
    }
  }
  return out.slice(0, o);
}

export function decodeU32Reference(bytes: Uint8Array): Uint32Array {
  const count = checkCodecHeader('decodeU32', bytes, codecKindU32);
  const out = new Uint32Array(count);
  const end = bytes.length;
  let p = codecHeaderBytes;
  let prev = 0;
  for (let b = 0; b < count; b += codecBlockValues) {
    const m = Math.min(codecBlockValues, count - b);
    if (p + 1 > end) corrupt('decodeU32', -1);
    const w = bytes[p++]!;
    if (w > 32) corrupt('decodeU32', -2);
    const size = m < codecBlockValues ? (m * w + 7) >> 3 : w * 16;
    if (p + size > end) corrupt('decodeU32', -1);
    const zz = new Uint32Array(m);
    if (w > 0 && m < codecBlockValues) {
      for (let i = 0; i < m; i++) zz[i] = readBits(bytes, p * 8 + i * w, w);
    } else if (w > 0) {
      const mask = w === 32 ? 0xffffffff : (1 << w) - 1;
      const word = (idx: number): number => {
        const q = p + idx * 4;
        return (bytes[q]! | (bytes[q + 1]! << 8) | (bytes[q + 2]! << 16) | (bytes[q + 3]! << 24)) >>> 0;
      };
      for (let j = 0; j < 4; j++) {
        let wi = j;
        let cur = word(wi);
        let off = 0;
        for (let k = 0; k < 32; k++) {
          let x = off < 32 ? cur >>> off : 0;
          off += w;
          if (off >= 32) {
            wi += 4;
            off -= 32;
            if (wi < 4 * w) cur = word(wi);
            if (off > 0) x |= cur << (w - off);
          }
          zz[4 * k + j] = (x & mask) >>> 0;
        }
      }
    }
    for (let i = 0; i < m; i++) {
      const z = zz[i]!;
      prev = (prev + ((z >>> 1) ^ -(z & 1))) >>> 0;
      out[b + i] = prev;
    }
    p += size;
  }
  if (p !== end) corrupt('decodeU32', -1);
  return out;
}

const u64 = (x: bigint): bigint => BigInt.asUintN(64, x);

export function encodeI64Reference(values: BigInt64Array): Uint8Array {
  const n = values.length;
  const out = new Uint8Array(codecHeaderBytes + Math.ceil(n / codecBlockValues) * 1025);
  writeHeader(out, codecKindI64, n);
  let o = codecHeaderBytes;
  let prev = 0n;
  const zz = new BigUint64Array(codecBlockValues);
  for (let b = 0; b < n; b += codecBlockValues) {
    const m = Math.min(codecBlockValues, n - b);
    let all = 0n;
    for (let i = 0; i < m; i++) {
      const cur = values[b + i]!;
      const d = BigInt.asIntN(64, cur - prev);
      const z = u64((d << 1n) ^ (d >> 63n));
      zz[i] = z;
      all |= z;
      prev = cur;
    }
    const w = all === 0n ? 0 : all.toString(2).length;
    out[o++] = w;
    if (w === 0) continue;
    const bw = new BitWriter(out, o);
    for (let i = 0; i < m; i++) bw.put(zz[i]! & ((1n << BigInt(w)) - 1n), w);
    o = bw.flush();
  }
  return out.slice(0, o);
}

export function decodeI64Reference(bytes: Uint8Array): BigInt64Array {
  const count = checkCodecHeader('decodeI64', bytes, codecKindI64);
  const out = new BigInt64Array(count);
  const end = bytes.length;
  let p = codecHeaderBytes;
  let prev = 0n;
  for (let b = 0; b < count; b += codecBlockValues) {
    const m = Math.min(codecBlockValues, count - b);
    if (p + 1 > end) corrupt('decodeI64', -1);
    const w = bytes[p++]!;
    if (w > 64) corrupt('decodeI64', -2);
    const size = (m * w + 7) >> 3;
    if (p + size > end) corrupt('decodeI64', -1);
    const wlo = Math.min(w, 32);
    const whi = w - wlo;
    let pos = p * 8;
    for (let i = 0; i < m; i++) {
      let z = 0n;
      if (w > 0) {
        z = BigInt(readBits(bytes, pos, wlo));
        pos += wlo;
        if (whi > 0) {
          z |= BigInt(readBits(bytes, pos, whi)) << 32n;
          pos += whi;
        }
      }
      prev = BigInt.asIntN(64, prev + ((z >> 1n) ^ -(z & 1n)));
      out[b + i] = prev;
    }
    p += size;
  }
  if (p !== end) corrupt('decodeI64', -1);
  return out;
}

// ------------------------------------------------------------------ the Kernels object

/** A fresh TypeScript-twin Kernels with its own arena. */
export function createReferenceKernels(): Kernels {
  const arena = standaloneArena();
  return {
    build: 'typescript',
    arena,

    scoreBlock(metric, query, vectors, n, d, out, norms) {
      const code = checkScore('scoreBlock', metric, query, 1, vectors, n, d, out, norms);
      blockInto(code, query, 0, vectors, 0, n, d, out, 0, norms, 0);
    },

    scoreBatch(metric, queries, q, vectors, n, d, out, norms) {
      checkQueries('scoreBatch', q);
      const code = checkScore('scoreBatch', metric, queries, q, vectors, n, d, out, norms);
      for (let qi = 0; qi < q; qi++) blockInto(code, queries, qi * d, vectors, 0, n, d, out, qi * n, norms, 0);
    },

    topK(scores, k, higherIsBetter) {
      checkK('topK', k);
      return topKReference(scores, k, higherIsBetter);
    },

    topKPtr(scoresPtr, n, k, higherIsBetter) {
      checkTopKPtrArgs(arena, scoresPtr, n, k);
      return topKReference(arena.f32(scoresPtr, n), k, higherIsBetter);
    },

    norms(vectors, n, d, out) {
      checkNormsArgs(vectors, n, d, out);
      normsInto(vectors, 0, n, d, out, 0);
    },

    scoreBlockPtr(metric, queryPtr, vectorsPtr, n, d, outPtr, normsPtr) {
      const code = checkBlockPtrArgs(arena, metric, queryPtr, vectorsPtr, n, d, outPtr, normsPtr);
      const q = arena.f32(queryPtr, d);
      const v = arena.f32(vectorsPtr, n * d);
      const out = arena.f32(outPtr, n);
      const norms = code === 2 ? arena.f32(normsPtr, n) : undefined;
      blockInto(code, q, 0, v, 0, n, d, out, 0, norms, 0);
    },

    scoreGatherPtr(metric, queryPtr, vectorsPtr, idsPtr, count, d, outPtr, normsPtr, n) {
      const code = checkGatherPtrArgs(arena, metric, queryPtr, vectorsPtr, idsPtr, count, d, outPtr, normsPtr);
      if (n !== undefined) checkCount('scoreGatherPtr', 'n', n);
      const all = arena.heapF32;
      const ids = arena.heapU32;
      const idBase = idsPtr >>> 2;
      const qo = queryPtr >>> 2;
      const oo = outPtr >>> 2;
      const qn = code === 2 ? fr(Math.sqrt(dotAt(all, qo, all, qo, d))) : 0;
      const vBase = vectorsPtr >>> 2;
      const nBase = normsPtr >>> 2;
      for (let j = 0; j < count; j++) {
        const id = ids[idBase + j]!;
        if (n !== undefined && id >= n) {
          throw new LargetableError('INVALID_ARGUMENT', `scoreGatherPtr: id ${id} at position ${j} is >= n (${n})`);
        }
        const vo = vBase + id * d;
        if (vo + d > all.length || (code === 2 && nBase + id >= all.length)) {
          throw new LargetableError('INVALID_ARGUMENT', `scoreGatherPtr: id ${id} points outside the kernel arena`);
        }
        all[oo + j] = scoreOne(code, all, qo, qn, all, vo, d, code === 2 ? all[nBase + id]! : 0);
      }
    },

    quantizeI8(vectors, n, d, min, scale, out) {
      checkQuantizeI8Args(vectors, n, d, min, scale, out);
      quantizeI8Into(vectors, n, d, min, scale, out);
    },

    dotI8(query, codes, n, d, out) {
      checkI8ScoreArgs('dotI8', query, codes, n, d, out);
      dotI8Into(query, codes, n, d, out);
    },

    l2I8(query, codes, n, d, out) {
      checkI8ScoreArgs('l2I8', query, codes, n, d, out);
      l2I8Into(query, codes, n, d, out);
    },

    scoreI8Ptr(metric, queryPtr, codesPtr, n, d, outPtr) {
      checkI8PtrArgs(arena, metric, queryPtr, codesPtr, n, d, outPtr);
      const out = arena.f32(outPtr, n);
      (metric === 'dot' ? dotI8Into : l2I8Into)(arena.i8(queryPtr, d), arena.i8(codesPtr, n * d), n, d, out);
    },

    crc32c(bytes, crc = 0, start = 0, end = bytes?.length) {
      if (!(bytes instanceof Uint8Array)) throw new LargetableError('INVALID_ARGUMENT', 'crc32c: bytes must be a Uint8Array');
      checkCrcRange(bytes, start, end);
      return crc32cReference(start === 0 && end === bytes.length ? bytes : bytes.subarray(start, end), crc);
    },

    blockSum(bytes, len = bytes.length) {
      checkSumLength(bytes, len);
      return blockSumReference(bytes, len);
    },

    encodeU32(values) {
      checkCount('encodeU32', 'values.length', values.length);
      return encodeU32Reference(values);
    },
    decodeU32: decodeU32Reference,
    encodeI64(values) {
      checkCount('encodeI64', 'values.length', values.length);
      return encodeI64Reference(values);
    },
    decodeI64: decodeI64Reference,
  };
}

export type { Metric };
