/**
 * CRC-32C for every checksum the storage engine writes but a version 2 segment's blocks, which
 * `blockSum` checks; both from the kernels (`kernels().crc32c`, `kernels().blockSum`: the wasm
 * build when installed, else the TypeScript twin; both compute the same functions).
 */
import { kernels } from '../kernel/index.ts';

/** CRC-32C (Castagnoli) of `bytes[start, end)`, continuing from `crc` (default 0). */
export function crc32c(bytes: Uint8Array, crc = 0, start = 0, end = bytes.length): number {
  return kernels().crc32c(bytes, crc, start, end);
}

/** The segment block checksum (format version 2) of `bytes[0, len)`. */
export function blockSum(bytes: Uint8Array, len = bytes.length): number {
  return kernels().blockSum(bytes, len);
}

/**
 * CRC-32C of any bytes followed by their own CRC-32C (little-endian): checking that the CRC of
 * data and stored CRC together equals this is the same as comparing the stored CRC with the CRC
 * of the data (the last four bytes map one to one onto the result), in one pass and without a
 * view of the data alone.
 */
export const crc32cResidue = 0x48674bc7;
