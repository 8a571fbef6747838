/**
 * Child process for the LOCK tests: `lock-holder.ts ADAPTER DIR MODE`.
 * ADAPTER: node | deno. MODE: hold (lock, print "HELD", wait to be killed) or
 * try (lock, print "HELD" or the error code, exit).
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
else {
  await adapter.close();
  process.exit(0);
}
