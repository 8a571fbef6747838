/**
 * Child process for the LOCK and SIGKILL tests: `lock-holder.ts ADAPTER DIR MODE`.
 * ADAPTER: node | deno. MODE: hold (lock, print "HELD", wait to be killed),
 * try (lock, print "HELD" or the error code, exit), or append (lock, print "HELD", then append
 * 8-byte records [i, i] (u32 LE) to `wal` forever, printing "ACK i" after each record's sync).
 */
import process from 'node:process';
import type { StorageAdapter } from '../../src/storage/adapter.ts';

const [kind, dir, mode] = process.argv.slice(2);
let adapter: StorageAdapter;
if (kind === 'deno') {
  const { openDenoFsAdapter } = await import('../../platform/deno/fs-adapter.ts');
  adapter = await openDenoFsAdapter(dir!);
} else {
  const { openNodeFsAdapter } = await import('../../platform/node/fs-adapter.ts');
  adapter = await openNodeFsAdapter(dir!);
}
try {
  await adapter.lock();
  process.stdout.write('HELD\n');
} catch (err) {
  process.stdout.write(`${(err as { code?: string }).code ?? 'ERROR'}\n`);
  process.exit(0);
}
if (mode === 'hold') setInterval(() => {}, 1000);
else if (mode === 'append') {
  const f = await adapter.open('wal', { create: true, writeThrough: true }); // the WAL's open
  let i = Math.floor((await f.size()) / 8);
  for (;;) {
    const rec = new Uint8Array(8);
    const view = new DataView(rec.buffer);
    view.setUint32(0, i, true);
    view.setUint32(4, i, true);
    await f.append(rec);
    await f.sync();
    process.stdout.write(`ACK ${i}\n`);
    i++;
  }
} else {
  await adapter.close();
  process.exit(0);
}
