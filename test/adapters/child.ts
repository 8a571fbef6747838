/** Spawns test/adapters/lock-holder.ts under the current runtime (Node+tsx or Deno). */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import process from 'node:process';
import { stat } from 'node:fs/promises';

const script = fileURLToPath(new URL('./lock-holder.ts', import.meta.url));
const isDeno = typeof (globalThis as { Deno?: unknown }).Deno !== 'undefined';

export function spawnLockHolder(adapter: 'node' | 'deno', dir: string, mode: 'hold' | 'try', runtime: 'node' | 'deno' = isDeno ? 'deno' : 'node'): { child: ChildProcess; firstLine: Promise<string> } {
  const args = runtime === 'deno' ? ['run', '-A', '--no-check', script, adapter, dir, mode] : ['--import', 'tsx', script, adapter, dir, mode];
  const exe = runtime === 'deno' ? (isDeno ? process.execPath : fileURLToPath(new URL('../../node_modules/.bin/deno', import.meta.url))) : isDeno ? 'node' : process.execPath;
  const child = spawn(exe, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const firstLine = new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (d: Uint8Array) => {
      out += new TextDecoder().decode(d);
      const nl = out.indexOf('\n');
      if (nl >= 0) resolve(out.slice(0, nl));
    });
    child.stderr!.on('data', (d: Uint8Array) => (err += new TextDecoder().decode(d)));
    child.on('exit', (code) => reject(new Error(`lock holder exited (${code}) before a line: ${err}`)));
  });
  firstLine.catch(() => {});
  return { child, firstLine };
}

/** Resolves when the child has exited and (on Linux) its /proc entry is gone: Deno's
 * child_process reports 'exit' of a SIGKILLed child while the kernel is still tearing it down. */
export async function waitExit(child: ChildProcess): Promise<void> {
  await new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.on('exit', () => resolve());
  });
  if (process.platform !== 'linux' || child.pid === undefined) return;
  for (let i = 0; i < 200; i++) {
    try {
      await stat(`/proc/${child.pid}`);
    } catch {
      return;
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}
