/**
 * LinearArena: the allocator for one WebAssembly.Memory (a kernel module's exported memory,
 * or a plain Memory for the TypeScript twin). It owns every byte from `base` up; blocks are
 * 16-byte aligned. Free blocks sit in an address-sorted list and coalesce; the highest block
 * returns to the bump pointer when freed. `memory.grow` detaches old views, so views are
 * created fresh on every call and must never be cached across an `alloc`.
 * Not thread-safe (one arena per module instance, used from one thread).
 */
import { LargetableError } from '../errors.ts';
import type { Arena } from './types.ts';

const align = 16;
const pageBytes = 65536;
/** wasm32 ceiling: 65536 pages of 64 KiB. */
const memoryPagesMax = 65536;

export class LinearArena implements Arena {
  readonly memory: WebAssembly.Memory;
  readonly base: number;
  private top: number;
  /** Address-sorted free blocks below `top`: parallel arrays of start and size. */
  private freeStart: number[] = [];
  private freeSize: number[] = [];
  private readonly live = new Map<number, number>();
  /** memory.buffer.byteLength, cached (only this arena grows the memory). */
  private size: number;

  constructor(memory: WebAssembly.Memory, base: number) {
    this.memory = memory;
    this.base = Math.max(align, Math.ceil(base / align) * align);
    this.top = this.base;
    this.size = memory.buffer.byteLength;
  }

  private u8View: Uint8Array | undefined;
  private f32View: Float32Array | undefined;
  private u32View: Uint32Array | undefined;

  /** A view of the whole memory, cached until the next grow (which detaches it). */
  get heapU8(): Uint8Array {
    let v = this.u8View;
    if (v === undefined || v.byteLength === 0) v = this.u8View = new Uint8Array(this.memory.buffer);
    return v;
  }
  /** Whole-memory f32 view (index = ptr >> 2), cached until the next grow. */
  get heapF32(): Float32Array {
    let v = this.f32View;
    if (v === undefined || v.byteLength === 0) v = this.f32View = new Float32Array(this.memory.buffer);
    return v;
  }
  /** Whole-memory u32 view (index = ptr >> 2), cached until the next grow. */
  get heapU32(): Uint32Array {
    let v = this.u32View;
    if (v === undefined || v.byteLength === 0) v = this.u32View = new Uint32Array(this.memory.buffer);
    return v;
  }

  /** Current memory size in bytes. */
  get byteLength(): number {
    return this.size;
  }

  /** The current buffer (changes after a grow). */
  get buffer(): ArrayBuffer {
    return this.memory.buffer as ArrayBuffer;
  }

  /** Bytes handed out and not yet freed. */
  get bytesInUse(): number {
    let total = 0;
    for (const size of this.live.values()) total += size;
    return total;
  }

  alloc(bytes: number): number {
    if (!Number.isInteger(bytes) || bytes < 0) {
      throw new LargetableError('INVALID_ARGUMENT', `arena.alloc: bytes must be a non-negative integer, got ${bytes}`);
    }
    const size = Math.max(align, Math.ceil(bytes / align) * align);
    for (let i = 0; i < this.freeStart.length; i++) {
      const fs = this.freeSize[i]!;
      if (fs < size) continue;
      const ptr = this.freeStart[i]!;
      if (fs === size) {
        this.freeStart.splice(i, 1);
        this.freeSize.splice(i, 1);
      } else {
        this.freeStart[i] = ptr + size;
        this.freeSize[i] = fs - size;
      }
      this.live.set(ptr, size);
      return ptr;
    }
    const ptr = this.top;
    const end = ptr + size;
    const have = this.size;
    if (end > have) {
      const pages = Math.ceil((end - have) / pageBytes);
      const current = have / pageBytes;
      if (current + pages > memoryPagesMax) {
        throw new LargetableError('LIMIT_EXCEEDED', `kernel memory: cannot allocate ${bytes} bytes (wasm32 limit is 4 GiB)`, {
          details: { bytes, inUse: this.bytesInUse },
        });
      }
      try {
        this.memory.grow(pages);
      } catch (cause) {
        throw new LargetableError('LIMIT_EXCEEDED', `kernel memory: growing by ${pages} pages failed`, { cause, details: { bytes } });
      }
      this.size = this.memory.buffer.byteLength;
      this.u8View = undefined;
      this.f32View = undefined;
      this.u32View = undefined;
    }
    this.top = end;
    this.live.set(ptr, size);
    return ptr;
  }

  free(ptr: number): void {
    if (ptr === 0) return;
    const size = this.live.get(ptr);
    if (size === undefined) throw new LargetableError('INVALID_ARGUMENT', `arena.free: ${ptr} is not a live allocation`);
    this.live.delete(ptr);
    if (ptr + size === this.top) {
      this.top = ptr;
      // absorb a free block that now touches the top
      const last = this.freeStart.length - 1;
      if (last >= 0 && this.freeStart[last]! + this.freeSize[last]! === this.top) {
        this.top = this.freeStart[last]!;
        this.freeStart.pop();
        this.freeSize.pop();
      }
      return;
    }
    // insert sorted, then coalesce with neighbours
    let lo = 0;
    let hi = this.freeStart.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.freeStart[mid]! < ptr) lo = mid + 1;
      else hi = mid;
    }
    this.freeStart.splice(lo, 0, ptr);
    this.freeSize.splice(lo, 0, size);
    const next = lo + 1;
    if (next < this.freeStart.length && ptr + size === this.freeStart[next]) {
      this.freeSize[lo] = size + this.freeSize[next]!;
      this.freeStart.splice(next, 1);
      this.freeSize.splice(next, 1);
    }
    const prev = lo - 1;
    if (prev >= 0 && this.freeStart[prev]! + this.freeSize[prev]! === ptr) {
      this.freeSize[prev] = this.freeSize[prev]! + this.freeSize[lo]!;
      this.freeStart.splice(lo, 1);
      this.freeSize.splice(lo, 1);
    }
  }

  f32(ptr: number, length: number): Float32Array {
    return new Float32Array(this.memory.buffer, ptr, length);
  }
  u32(ptr: number, length: number): Uint32Array {
    return new Uint32Array(this.memory.buffer, ptr, length);
  }
  i8(ptr: number, length: number): Int8Array {
    return new Int8Array(this.memory.buffer, ptr, length);
  }
  u8(ptr: number, length: number): Uint8Array {
    return new Uint8Array(this.memory.buffer, ptr, length);
  }

  /**
   * Throws INVALID_ARGUMENT unless [ptr, ptr+bytes) lies inside the memory and ptr is aligned
   * to `alignment`. Used to validate pointer-API calls before a kernel runs.
   */
  check(name: string, ptr: number, bytes: number, alignment = 4): void {
    if (!(ptr >= this.base && ptr + bytes <= this.size && (ptr & (alignment - 1)) === 0 && Number.isInteger(ptr))) {
      throw new LargetableError('INVALID_ARGUMENT', `${name}: pointer ${ptr} (+${bytes} bytes) is outside the kernel arena or misaligned`);
    }
  }
}

/**
 * Stand-in for WebAssembly.Memory where WebAssembly is missing (the TypeScript twin must work
 * there). grow() moves the bytes to a larger buffer and detaches the old one when the runtime
 * has ArrayBuffer.prototype.transfer, like a real Memory.
 */
class PlainMemory {
  buffer: ArrayBuffer;
  constructor(pages: number) {
    this.buffer = new ArrayBuffer(pages * pageBytes);
  }
  grow(pages: number): number {
    const old = this.buffer;
    const before = old.byteLength / pageBytes;
    const size = old.byteLength + pages * pageBytes;
    const transfer = (old as ArrayBuffer & { transfer?: (n: number) => ArrayBuffer }).transfer;
    if (typeof transfer === 'function') this.buffer = transfer.call(old, size);
    else {
      const next = new ArrayBuffer(size);
      new Uint8Array(next).set(new Uint8Array(old));
      this.buffer = next;
    }
    return before;
  }
}

/** A fresh arena over its own Memory (used by the TypeScript twin). */
export function standaloneArena(initialPages = 1): LinearArena {
  const memory = typeof WebAssembly === 'object' && typeof WebAssembly.Memory === 'function'
    ? new WebAssembly.Memory({ initial: initialPages })
    : (new PlainMemory(initialPages) as unknown as WebAssembly.Memory);
  return new LinearArena(memory, align);
}
