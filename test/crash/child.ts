/**
 * Crash-loop child: opens the store in DIR (Node fs adapter) and writes strict batches from
 * WRITERS concurrent writers, printing `ack <id>` after each acknowledgement (stdout to a pipe
 * is synchronous on Linux, so a printed ack was acknowledged before any later kill).
 * KILL_AT names a store event (wal-append, segment-write, manifest-swap, compaction-install, ...):
 * the child prints `kill <point>` and SIGKILLs itself at the KILL_COUNT-th occurrence.
 */
import process from 'node:process';
import { openNodeFsAdapter } from '../../platform/node/fs-adapter.ts';
import { openStore, type StoreEvent } from '../../src/storage/index.ts';

const env = process.env;
const dir = env['DIR']!;
const start = Number(env['START'] ?? 0);
const batches = Number(env['BATCHES'] ?? 1_000_000);
const writers = Number(env['WRITERS'] ?? 4);
const killAt = env['KILL_AT'] as StoreEvent | undefined;
let left = Number(env['KILL_COUNT'] ?? 1);
const enc = new TextEncoder();

const store = await openStore(await openNodeFsAdapter(dir), {
  memtableSizeBytes: 6 * 1024,
  blockSizeBytes: 1024,
  segmentSizeBytes: 16 * 1024,
  onEvent: (e) => {
    if (e === killAt && --left <= 0) {
      // tell the parent the point was reached (stdout to a pipe is synchronous), then die
      process.stdout.write(`kill ${e}\n`);
      process.kill(process.pid, 'SIGKILL');
    }
  },
});
process.stdout.write(`ready ${store.recovery.walRecordsReplayed} ${store.recovery.tornTailBytesTruncated}\n`);
let next = start;
async function writer(): Promise<void> {
  while (next < start + batches) {
    const id = next++;
    const ops = [0, 1, 2].map((j) => ({ type: 'put' as const, key: enc.encode(`b${id}-${j}`), value: enc.encode(`v${id}-${j}-`.padEnd(48, 'x')) }));
    await store.write(ops);
    process.stdout.write(`ack ${id}\n`);
  }
}
await Promise.all(Array.from({ length: writers }, writer));
await store.close();
process.stdout.write('done\n');
