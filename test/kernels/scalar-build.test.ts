/**
 * Proves build/scalar.wasm holds no SIMD: every function body is decoded instruction by
 * instruction (so an 0xFD byte inside an immediate is not mistaken for an opcode), and no type
 * or local uses v128. The same decoder must find SIMD instructions in build/simd.wasm.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';

const v128 = 0x7b;

class Reader {
  pos = 0;
  readonly b: Uint8Array;
  constructor(b: Uint8Array, pos = 0) {
    this.b = b;
    this.pos = pos;
  }
  byte(): number {
    if (this.pos >= this.b.length) throw new Error('unexpected end of module');
    return this.b[this.pos++]!;
  }
  u32(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      const x = this.byte();
      result += (x & 0x7f) * 2 ** shift;
      if ((x & 0x80) === 0) return result;
      shift += 7;
      if (shift > 35) throw new Error('LEB128 too long');
    }
  }
  /** Signed LEB (i32/i64/s33): value not needed, only its length. */
  sleb(): void {
    for (let i = 0; i < 10; i++) if ((this.byte() & 0x80) === 0) return;
    throw new Error('signed LEB128 too long');
  }
  skip(n: number): void {
    this.pos += n;
  }
  memarg(): void {
    this.u32();
    this.u32();
  }
}

interface Census {
  simdOps: number;
  v128Types: number;
  functions: number;
}

function blockType(r: Reader, census: Census): void {
  const t = r.b[r.pos]!;
  if (t === 0x40) r.skip(1);
  else if (t >= 0x6f && t <= 0x7f) {
    if (t === v128) census.v128Types++;
    r.skip(1);
  } else r.sleb();
}

function decodeBody(r: Reader, end: number, census: Census): void {
  const groups = r.u32();
  for (let i = 0; i < groups; i++) {
    r.u32();
    if (r.byte() === v128) census.v128Types++;
  }
  while (r.pos < end) {
    const op = r.byte();
    if (op === 0x02 || op === 0x03 || op === 0x04) blockType(r, census);
    else if (op === 0x0c || op === 0x0d || op === 0x10 || op === 0x12 || (op >= 0x20 && op <= 0x26) || op === 0xd2) r.u32();
    else if (op === 0x0e) {
      const n = r.u32();
      for (let i = 0; i <= n; i++) r.u32();
    } else if (op === 0x11 || op === 0x13) {
      r.u32();
      r.u32();
    } else if (op === 0x1c) {
      const n = r.u32();
      for (let i = 0; i < n; i++) if (r.byte() === v128) census.v128Types++;
    } else if (op >= 0x28 && op <= 0x3e) r.memarg();
    else if (op === 0x3f || op === 0x40) r.byte();
    else if (op === 0x41 || op === 0x42) r.sleb();
    else if (op === 0x43) r.skip(4);
    else if (op === 0x44) r.skip(8);
    else if (op === 0xd0) r.byte();
    else if (op === 0xfc) {
      const sub = r.u32();
      if (sub <= 7) continue;
      if (sub === 8) { r.u32(); r.byte(); }
      else if (sub === 9 || sub === 13 || (sub >= 15 && sub <= 17)) r.u32();
      else if (sub === 10) { r.byte(); r.byte(); }
      else if (sub === 11) r.byte();
      else if (sub === 12 || sub === 14) { r.u32(); r.u32(); }
      else throw new Error(`unknown 0xFC opcode ${sub}`);
    } else if (op === 0xfd) {
      census.simdOps++;
      const sub = r.u32();
      if (sub <= 0x0b || sub === 0x5c || sub === 0x5d) r.memarg();
      else if (sub === 0x0c || sub === 0x0d) r.skip(16);
      else if (sub >= 0x15 && sub <= 0x22) r.byte();
      else if (sub >= 0x54 && sub <= 0x5b) { r.memarg(); r.byte(); }
    } else if (
      op === 0x00 || op === 0x01 || op === 0x05 || op === 0x0b || op === 0x0f || op === 0x1a || op === 0x1b || op === 0xd1 ||
      (op >= 0x45 && op <= 0xc4)
    ) {
      // no immediates
    } else throw new Error(`unknown opcode 0x${op.toString(16)} at ${r.pos - 1}`);
  }
  if (r.pos !== end) throw new Error('function body overran its size');
}

function census(bytes: Uint8Array): Census {
  const c: Census = { simdOps: 0, v128Types: 0, functions: 0 };
  const r = new Reader(bytes, 8);
  assert.deepEqual([...bytes.subarray(0, 8)], [0, 97, 115, 109, 1, 0, 0, 0]);
  while (r.pos < bytes.length) {
    const id = r.byte();
    const size = r.u32();
    const end = r.pos + size;
    if (id === 1) {
      // type section: any v128 in a signature
      const n = r.u32();
      for (let i = 0; i < n; i++) {
        assert.equal(r.byte(), 0x60);
        for (let side = 0; side < 2; side++) {
          const m = r.u32();
          for (let j = 0; j < m; j++) if (r.byte() === v128) c.v128Types++;
        }
      }
    } else if (id === 6) {
      const n = r.u32();
      for (let i = 0; i < n; i++) {
        if (r.byte() === v128) c.v128Types++;
        r.byte();
        // init expression up to `end`
        for (;;) {
          const op = r.byte();
          if (op === 0x0b) break;
          if (op === 0xfd) {
            c.simdOps++;
            r.u32();
            r.skip(16);
          } else if (op === 0x41 || op === 0x42) r.sleb();
          else if (op === 0x43) r.skip(4);
          else if (op === 0x44) r.skip(8);
          else r.u32();
        }
      }
    } else if (id === 10) {
      const n = r.u32();
      for (let i = 0; i < n; i++) {
        const bodySize = r.u32();
        decodeBody(r, r.pos + bodySize, c);
        c.functions++;
      }
    }
    r.pos = end;
  }
  return c;
}

const root = new URL('../../build/', import.meta.url);

describe('wasm builds', () => {
  it('build/scalar.wasm contains no SIMD instruction and no v128 value', async () => {
    const scalar = census(new Uint8Array(await readFile(new URL('scalar.wasm', root))));
    assert.ok(scalar.functions > 10, `decoded ${scalar.functions} functions`);
    assert.equal(scalar.simdOps, 0);
    assert.equal(scalar.v128Types, 0);
  });

  it('the same decoder finds SIMD in build/simd.wasm (so the check above can fail)', async () => {
    const simd = census(new Uint8Array(await readFile(new URL('simd.wasm', root))));
    assert.ok(simd.simdOps > 100, `found ${simd.simdOps} SIMD instructions`);
  });
});
