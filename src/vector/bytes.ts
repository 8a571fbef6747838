/** Little-endian byte writer/reader for index snapshots (layouts in docs/FORMAT.md "## Vectors"). */
import { LargetableError } from '../errors.ts';

export class ByteWriter {
  parts: Uint8Array[] = [];
  private head = new Uint8Array(256);
  private dv = new DataView(this.head.buffer);
  private pos = 0;

  private room(n: number): void {
    if (this.pos + n > this.head.length) {
      this.flushHead();
      if (n > this.head.length) {
        this.head = new Uint8Array(n);
        this.dv = new DataView(this.head.buffer);
      }
    }
  }

  private flushHead(): void {
    if (this.pos > 0) this.parts.push(this.head.slice(0, this.pos));
    this.pos = 0;
  }

  u8(x: number): void { this.room(1); this.dv.setUint8(this.pos, x); this.pos += 1; }
  u32(x: number): void { this.room(4); this.dv.setUint32(this.pos, x, true); this.pos += 4; }
  i32(x: number): void { this.room(4); this.dv.setInt32(this.pos, x, true); this.pos += 4; }
  f32(x: number): void { this.room(4); this.dv.setFloat32(this.pos, x, true); this.pos += 4; }
  f64(x: number): void { this.room(8); this.dv.setFloat64(this.pos, x, true); this.pos += 8; }
  u64(x: bigint): void { this.room(8); this.dv.setBigUint64(this.pos, x, true); this.pos += 8; }
  /** Length-prefixed raw bytes (copied: typed array views over the arena must not be kept). */
  bytes(b: Uint8Array): void {
    this.u32(b.length);
    this.flushHead();
    this.parts.push(b.slice());
  }
  /** Typed array body, length-prefixed in bytes. Little-endian hosts only (all supported runtimes). */
  array(a: Uint32Array | Float32Array | Int8Array | Uint8Array | Int32Array | Uint16Array): void {
    this.bytes(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  }
  finish(): Uint8Array[] {
    this.flushHead();
    return this.parts;
  }
}

export function concatBytes(parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

export class ByteReader {
  private dv: DataView;
  readonly buf: Uint8Array;
  pos = 0;
  constructor(buf: Uint8Array) {
    this.buf = buf;
    this.dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }
  private need(n: number): void {
    if (this.pos + n > this.buf.length) throw new LargetableError('CORRUPTION', `vector index snapshot truncated at byte ${this.pos}`);
  }
  u8(): number { this.need(1); return this.dv.getUint8(this.pos++); }
  u32(): number { this.need(4); const x = this.dv.getUint32(this.pos, true); this.pos += 4; return x; }
  i32(): number { this.need(4); const x = this.dv.getInt32(this.pos, true); this.pos += 4; return x; }
  f32(): number { this.need(4); const x = this.dv.getFloat32(this.pos, true); this.pos += 4; return x; }
  f64(): number { this.need(8); const x = this.dv.getFloat64(this.pos, true); this.pos += 8; return x; }
  u64(): bigint { this.need(8); const x = this.dv.getBigUint64(this.pos, true); this.pos += 8; return x; }
  bytes(): Uint8Array { const n = this.u32(); this.need(n); const b = this.buf.slice(this.pos, this.pos + n); this.pos += n; return b; }
  u32s(): Uint32Array { const b = this.bytes(); return new Uint32Array(b.buffer, b.byteOffset, b.byteLength >>> 2); }
  i32s(): Int32Array { const b = this.bytes(); return new Int32Array(b.buffer, b.byteOffset, b.byteLength >>> 2); }
  f32s(): Float32Array { const b = this.bytes(); return new Float32Array(b.buffer, b.byteOffset, b.byteLength >>> 2); }
  i8s(): Int8Array { const b = this.bytes(); return new Int8Array(b.buffer, b.byteOffset, b.byteLength); }
}
