/** Byte helpers shared by the storage formats: key order, varints, a growable writer. */
import { LargetableError } from '../errors.ts';

/** Unsigned lexicographic byte order. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = a.length < b.length ? a.length : b.length;
  for (let i = 0; i < n; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

/** Compares `a` with `buf[start, start+len)` without creating a view. */
export function compareAt(a: Uint8Array, buf: Uint8Array, start: number, len: number): number {
  const n = a.length < len ? a.length : len;
  for (let i = 0; i < n; i++) {
    const d = a[i]! - buf[start + i]!;
    if (d !== 0) return d;
  }
  return a.length - len;
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function toHex(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += (b[i]! < 16 ? '0' : '') + b[i]!.toString(16);
  return s;
}

export function fromHex(s: string): Uint8Array {
  const out = new Uint8Array(s.length >>> 1);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.substr(i * 2, 2), 16);
  return out;
}

/**
 * The little-endian u32 at b[o] (no DataView: the per-commit record helpers run mostly as
 * unoptimized code in a fresh process, where a DataView is one more object per call).
 */
export function readU32LE(b: Uint8Array, o: number): number {
  return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
}

/** Writes `v` (0 to 2^32 - 1) as a little-endian u32 at b[o]. */
export function writeU32LE(b: Uint8Array, o: number, v: number): void {
  b[o] = v & 0xff;
  b[o + 1] = (v >>> 8) & 0xff;
  b[o + 2] = (v >>> 16) & 0xff;
  b[o + 3] = (v >>> 24) & 0xff;
}

export function varintSize(v: number): number {
  let n = 1;
  while (v >= 0x80) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

/** Growable byte buffer with little-endian fixed-width and varint writers. */
export class ByteWriter {
  buf: Uint8Array;
  view: DataView;
  pos = 0;
  constructor(initial = 4096) {
    this.buf = new Uint8Array(initial);
    this.view = new DataView(this.buf.buffer);
  }
  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.pos + n) cap *= 2;
    const nb = new Uint8Array(cap);
    nb.set(this.buf.subarray(0, this.pos));
    this.buf = nb;
    this.view = new DataView(nb.buffer);
  }
  u8(v: number): void {
    this.ensure(1);
    this.buf[this.pos++] = v;
  }
  u32(v: number): void {
    this.ensure(4);
    this.view.setUint32(this.pos, v, true);
    this.pos += 4;
  }
  /** Unsigned integer < 2^53 as 8 bytes little-endian. */
  u64(v: number): void {
    this.ensure(8);
    this.view.setUint32(this.pos, v % 0x100000000, true);
    this.view.setUint32(this.pos + 4, Math.floor(v / 0x100000000), true);
    this.pos += 8;
  }
  varint(v: number): void {
    this.ensure(10);
    while (v >= 0x80) {
      this.buf[this.pos++] = (v & 0x7f) | 0x80;
      v = Math.floor(v / 128);
    }
    this.buf[this.pos++] = v;
  }
  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }
  /** A view of the written bytes (valid until the next write). */
  view0(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }
  /** A copy of the written bytes. */
  take(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }
  reset(): void {
    this.pos = 0;
  }
}

/** Cursor over bytes; out-of-bounds reads throw CORRUPTION naming `file` and the offset. */
export class ByteReader {
  view: DataView;
  pos: number;
  readonly buf: Uint8Array;
  readonly file: string;
  readonly base: number;
  constructor(buf: Uint8Array, file: string, base = 0, start = 0) {
    this.buf = buf;
    this.base = base;
    this.file = file;
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.pos = start;
  }
  fail(msg: string): never {
    throw corruption(this.file, this.base + this.pos, msg);
  }
  need(n: number): void {
    if (this.pos + n > this.buf.length) this.fail(`truncated structure (need ${n} bytes)`);
  }
  u8(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }
  u32(): number {
    this.need(4);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }
  u64(): number {
    this.need(8);
    const lo = this.view.getUint32(this.pos, true);
    const hi = this.view.getUint32(this.pos + 4, true);
    this.pos += 8;
    if (hi >= 0x200000) this.fail('64-bit value out of range');
    return hi * 0x100000000 + lo;
  }
  varint(): number {
    let v = 0;
    let mul = 1;
    for (let i = 0; i < 8; i++) {
      const b = this.u8();
      v += (b & 0x7f) * mul;
      if (b < 0x80) return v;
      mul *= 128;
    }
    this.fail('varint too long');
  }
  bytes(n: number): Uint8Array {
    this.need(n);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
}

export function corruption(file: string, offset: number, message: string): LargetableError {
  return new LargetableError('CORRUPTION', `${file}: corruption at offset ${offset}: ${message}`, {
    details: { file, offset },
  });
}
