/**
 * The storage engine's native block decoder on runtimes with node:zlib (Node, and Deno through its
 * node: compatibility layer): zlib's raw inflate, ~2x faster than the TypeScript inflater on the
 * engine's 16 KiB blocks. Installed by platform/node/kernels.ts and platform/deno/kernels.ts;
 * never imported by a browser build.
 */
import { inflateRawSync } from 'node:zlib';
import type { BlockInflater } from '../src/storage/segment.ts';

export const zlibBlockInflater: BlockInflater = (payload, rawLen) => {
  // one output chunk one byte larger than the block: zlib then sees the stream end without
  // allocating a second chunk; more than rawLen bytes throws (the caller reports CORRUPTION)
  const out = inflateRawSync(payload, { chunkSize: Math.max(64, rawLen + 1), maxOutputLength: Math.max(1, rawLen) });
  // a plain Uint8Array (Buffer#slice is a view) that owns its buffer (a cached block is charged,
  // and keeps alive, its whole buffer; small outputs may come from Buffer's shared pool)
  if (out.byteOffset === 0 && out.buffer.byteLength <= rawLen + 1) return new Uint8Array(out.buffer, 0, out.length);
  return new Uint8Array(out);
};
