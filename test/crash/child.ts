/**
 * Crash-loop child, run in the runtime under test (Node: a bundle of this file; Deno: `deno run`):
 * opens the store in DIR (that runtime's fs adapter) and writes batches from WRITERS concurrent
 * writers, printing `ack <id> <seq> <s|r>` after each acknowledgement (synchronous writes to the
 * stdout pipe, so a printed ack was acknowledged before any later kill). A batch is relaxed with
 * probability RELAXED (default 0: all strict). WIDE=1: values of 1,000 bytes and a 1 MiB memtable, so the
 * WAL's preallocated zeros may run out within a run and its spare WALs be made and switched to.
 * KILL_AT names a store event (wal-append, segment-write, manifest-swap, compaction-install, ...):
 * the child prints `kill <point>` and SIGKILLs itself at the KILL_COUNT-th occurrence.
 */
import process from 'node:process';
import type { StorageAdapter } from '../../src/storage/adapter.ts';
import { openStore, type StoreEvent } from '../../src/storage/index.ts';

interface DenoLike {
  pid: number;
  kill(pid: number, signal: string): void;
  stdout: { writeSync(b: Uint8Array): number };
}
const deno = (globalThis as { Deno?: DenoLike }).Deno;

const env = process.env;
const dir = env['DIR']!;
const start = Number(env['START'] ?? 0);
const batches = Number(env['BATCHES'] ?? 1_000_000);
const writers = Number(env['WRITERS'] ?? 4);
const relaxed = Number(env['RELAXED'] ?? 0);
const killAt = env['KILL_AT'] as StoreEvent | undefined;
const wide = env['WIDE'] === '1';
let left = Number(env['KILL_COUNT'] ?? 1);
const enc = new TextEncoder();

function out(line: string): void {
  if (deno === undefined) {
    process.stdout.write(line); // synchronous for pipes on Linux
    return;
  }
  const b = enc.encode(line);
  for (let o = 0; o < b.length; ) o += deno.stdout.writeSync(b.subarray(o));
}

function die(): void {
  if (deno !== undefined) deno.kill(deno.pid, 'SIGKILL');
  else process.kill(process.pid, 'SIGKILL');
}

const adapter: StorageAdapter =
  deno !== undefined
    ? await (await import('../../platform/deno/fs-adapter.ts')).openDenoFsAdapter(dir)
    : await (await import('../../platform/node/fs-adapter.ts')).openNodeFsAdapter(dir);

const store = await openStore(adapter, {
  memtableSizeBytes: wide ? 1 << 20 : 6 * 1024,
  blockSizeBytes: 1024,
  segmentSizeBytes: 16 * 1024,
  onEvent: (e) => {
    if (e === killAt && --left <= 0) {
      // tell the parent the point was reached, then die
      out(`kill ${e}\n`);
      die();
    }
  },
});
out(`ready ${store.recovery.walRecordsReplayed} ${store.recovery.tornTailBytesTruncated}\n`);
let next = start;
let rnd = (start ^ 0x9e3779b9) >>> 0 || 1;
async function writer(): Promise<void> {
  while (next < start + batches) {
    const id = next++;
    rnd ^= rnd << 13;
    rnd ^= rnd >>> 17;
    rnd ^= rnd << 5;
    const isRelaxed = (rnd >>> 0) / 4294967296 < relaxed;
    const ops = [0, 1, 2].map((j) => ({ type: 'put' as const, key: enc.encode(`b${id}-${j}`), value: enc.encode(`v${id}-${j}-`.padEnd(wide ? 1000 : 48, 'x')) }));
    const { seq } = await store.write(ops, { durability: isRelaxed ? 'relaxed' : 'strict' });
    out(`ack ${id} ${seq} ${isRelaxed ? 'r' : 's'}\n`);
  }
}
await Promise.all(Array.from({ length: writers }, writer));
await store.close();
out('done\n');
