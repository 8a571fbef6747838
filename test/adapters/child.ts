/** Spawns test/adapters/lock-holder.ts under the current runtime (Node+tsx or Deno). */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import process from 'node:process';
import assert from 'node:assert/strict';
import { mkdir, stat } from 'node:fs/promises';
import type { StorageAdapter } from '../../src/storage/adapter.ts';

const script = fileURLToPath(new URL('./lock-holder.ts', import.meta.url));
const isDeno = typeof (globalThis as { Deno?: unknown }).Deno !== 'undefined';

export function spawnLockHolder(adapter: 'node' | 'deno', dir: string, mode: 'hold' | 'try' | 'append', runtime: 'node' | 'deno' = isDeno ? 'deno' : 'node'): { child: ChildProcess; firstLine: Promise<string>; lastAck(): number } {
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
  return { child, firstLine, lastAck: () => lastAck(out) };
}

/** The highest "ACK i" printed so far (-1 if none). */
function lastAck(out: string): number {
  const m = [...out.matchAll(/^ACK (\d+)$/gm)];
  return m.length === 0 ? -1 : Number(m[m.length - 1]![1]);
}

/** Resolves once the child printed "ACK n" or later. */
export async function waitForAck(h: { lastAck(): number; child: ChildProcess }, n: number): Promise<void> {
  for (let i = 0; i < 2000 && h.lastAck() < n; i++) {
    if (h.child.exitCode !== null) throw new Error('the child exited');
    await new Promise((r) => setTimeout(r, 5));
  }
  if (h.lastAck() < n) throw new Error(`no ACK ${n} after 10 s`);
}

/** Checks that `wal` holds records 0..acked in order (a torn unsynced tail may follow). */
export function checkRecords(bytes: Uint8Array, acked: number): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < (acked + 1) * 8) throw new Error(`lost acknowledged records: ${bytes.length} bytes for ${acked + 1} acked`);
  for (let i = 0; i <= acked; i++) {
    if (view.getUint32(i * 8, true) !== i || view.getUint32(i * 8 + 4, true) !== i) throw new Error(`record ${i} is damaged`);
  }
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

/**
 * Three rounds of: a child process (the `adapter` under test) appends synced records to `wal`
 * in `dir`; SIGKILL it; reopen with `open`, take over its stale lock, check that every
 * acknowledged record is there, and drop a torn tail record.
 */
export async function appendsSurviveSigkill(adapter: 'node' | 'deno', dir: string, open: (dir: string) => Promise<StorageAdapter>): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (let round = 1; round <= 3; round++) {
    const h = spawnLockHolder(adapter, dir, 'append');
    assert.equal(await h.firstLine, 'HELD', 'the writer starts');
    await waitForAck(h, round * 40);
    h.child.kill('SIGKILL');
    await waitExit(h.child);
    const acked = h.lastAck();
    const a = await open(dir);
    await a.lock(); // the SIGKILLed writer's lock is stale: taken over
    checkRecords(await a.readAll('wal'), acked);
    const f = await a.open('wal');
    await f.truncate(Math.floor((await f.size()) / 8) * 8); // drop a torn tail record
    await f.sync();
    await f.close();
    await a.close();
  }
}
