/**
 * The crash loop shared by test/crash/crash.test.ts (CI: >= 200 kills on Node, fewer on Deno) and
 * bench/soak.ts (10,000 kills): a child process, in the runtime running this loop (Node or Deno,
 * with that runtime's fs adapter), writes batches and logs acknowledgements; it is killed with
 * SIGKILL at random moments or kills itself at named points; after each kill the store is
 * reopened here and checked: it opens cleanly, verify() passes, every acknowledged strict batch
 * is present, every batch is all-or-nothing, and the acknowledged batches present form a prefix
 * of the acknowledged sequence (a relaxed batch may be lost, but never one before a batch that
 * survived).
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import type { StorageAdapter } from '../../src/storage/adapter.ts';
import { openStore, type StoreEvent } from '../../src/storage/index.ts';

interface DenoLike {
  execPath(): string;
}
const deno = (globalThis as { Deno?: DenoLike }).Deno;

export const killPoints: StoreEvent[] = ['wal-append', 'wal-sync', 'segment-write', 'flush-install', 'manifest-swap', 'compaction-write', 'compaction-install'];

export interface CrashLoopOptions {
  kills: number;
  /** Parent directory for the data directories (default: the OS temp dir). */
  root?: string;
  /** Independent child/check loops run side by side, each on its own directory (default 1). */
  lanes?: number;
  seed?: number;
  /** Check verify() every this many kills (default 1). */
  verifyEvery?: number;
  /** Share of child runs whose batches are relaxed with probability 1/2 (default 0.25). */
  mixedRuns?: number;
  /**
   * Each lane moves to a fresh data directory after this many kills (default: never). The check
   * after every kill reads the whole store, so a lane that keeps one store for thousands of kills
   * slows down as it grows; a long soak rotates to keep its rate.
   */
  freshEvery?: number;
  log?: (line: string) => void;
}

export interface CrashLoopResult {
  kills: number;
  /** Kills at a named point: only those where the child reported reaching it. */
  namedKills: Record<string, number>;
  /** Kills by the parent's timer (random moments, and named runs whose point was not reached). */
  randomKills: number;
  cleanExits: number;
  acked: number;
  /** Acknowledged relaxed batches (allowed to be lost: acknowledged from memory). */
  ackedRelaxed: number;
  /** Acknowledged relaxed batches a crash lost (each time, a suffix of the acknowledged sequence). */
  relaxedLost: number;
  batchesSeen: number;
  tornTails: number;
  ms: number;
}

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
}

/** Bundles child.ts into one .mjs (fast child startup under Node: no tsx per spawn). */
export async function bundleChild(outDir: string): Promise<string> {
  const { build } = await import('esbuild');
  const here = path.dirname(fileURLToPath(import.meta.url));
  const out = path.join(outDir, 'crash-child.mjs');
  await build({
    entryPoints: [path.join(here, 'child.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outfile: out,
    logLevel: 'error',
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  });
  return out;
}

/** The child's command line in the runtime running this loop. */
export async function childCommand(tmp: string): Promise<{ exe: string; args: string[] }> {
  if (deno !== undefined) {
    // Deno starts TypeScript directly; the Deno fs adapter is chosen inside the child
    return { exe: deno.execPath(), args: ['run', '-A', '--no-check', '--quiet', fileURLToPath(new URL('./child.ts', import.meta.url))] };
  }
  return { exe: process.execPath, args: [await bundleChild(tmp)] };
}

/** This runtime's filesystem adapter (the one the child writes with). */
async function openFsAdapter(dir: string): Promise<StorageAdapter> {
  if (deno !== undefined) return (await import('../../platform/deno/fs-adapter.ts')).openDenoFsAdapter(dir);
  return (await import('../../platform/node/fs-adapter.ts')).openNodeFsAdapter(dir);
}

export interface Ack {
  id: number;
  seq: number;
  strict: boolean;
}

interface RunResult {
  acks: Ack[];
  killed: boolean;
  /** The named point the child killed itself at (it printed `kill <point>`). */
  killedAt: string | null;
  ready: boolean;
  stderr: string;
}

function parseAck(line: string): Ack {
  const [id, seq, kind] = line.slice(4).trim().split(' ');
  return { id: Number(id), seq: Number(seq), strict: kind !== 'r' };
}

function runChild(cmd: { exe: string; args: string[] }, env: Record<string, string>, kill: { afterMs: number; fromReady: boolean } | null): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd.exe, cmd.args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const acks: Ack[] = [];
    let buf = '';
    let ready = false;
    let killedAt: string | null = null;
    let stderr = '';
    let timer: ReturnType<typeof setTimeout> | undefined;
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => {
      buf += d;
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (line.startsWith('ack ')) acks.push(parseAck(line));
        else if (line.startsWith('kill ')) killedAt = line.slice(5).trim();
        else if (line.startsWith('ready')) {
          ready = true;
          if (kill !== null && kill.fromReady) timer = setTimeout(() => child.kill('SIGKILL'), kill.afterMs);
        }
      }
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => {
      stderr += d;
    });
    if (kill !== null && !kill.fromReady) timer = setTimeout(() => child.kill('SIGKILL'), kill.afterMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (timer !== undefined) clearTimeout(timer);
      // a partial last line is not an acknowledgement the child finished printing
      if (/^ack \d+ \d+ [sr]$/.test(buf.trim())) acks.push(parseAck(buf));
      if (signal !== 'SIGKILL' && code !== 0) reject(new Error(`child exited with ${code}: ${stderr}`));
      else resolve({ acks, killed: signal === 'SIGKILL', killedAt, ready, stderr });
    });
  });
}

/**
 * Opens the store in `dir` and checks every invariant: batches atomic, every batch in `mustHave`
 * present, and of `runAcks` (the last run's acknowledgements) every strict one present and those
 * present a prefix by sequence number. Returns the batches present and the acknowledged ids present.
 */
export async function checkStore(dir: string, mustHave: Set<number>, verify: boolean, runAcks: Ack[] = []): Promise<{ batches: number; torn: number; present: Set<number> }> {
  const store = await openStore(await openFsAdapter(dir), { readOnly: true });
  try {
    if (verify) {
      const rep = await store.verify();
      if (!rep.ok) throw new Error(`verify failed: ${JSON.stringify(rep.errors)}`);
    }
    const counts = new Map<number, number>();
    const dec = new TextDecoder();
    for await (const [k, v] of store.iterate()) {
      const ks = dec.decode(k);
      const m = /^b(\d+)-(\d)$/.exec(ks);
      if (m === null) throw new Error(`unexpected key ${ks}`);
      const id = Number(m[1]);
      const val = dec.decode(v);
      if (val !== `v${id}-${m[2]}-`.padEnd(val.length === 1000 ? 1000 : 48, 'x')) throw new Error(`wrong value for ${ks}`);
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    for (const [id, c] of counts) if (c !== 3) throw new Error(`batch ${id} is torn: ${c} of 3 keys present`);
    for (const id of mustHave) if (!counts.has(id)) throw new Error(`acknowledged batch ${id} was lost`);
    const bySeq = [...runAcks].sort((a, b) => a.seq - b.seq);
    let lastPresent = -1;
    for (let i = 0; i < bySeq.length; i++) if (counts.has(bySeq[i]!.id)) lastPresent = i;
    for (let i = 0; i < bySeq.length; i++) {
      const a = bySeq[i]!;
      if (counts.has(a.id)) continue;
      if (a.strict) throw new Error(`acknowledged strict batch ${a.id} (seq ${a.seq}) was lost`);
      if (i < lastPresent) throw new Error(`acknowledged relaxed batch ${a.id} (seq ${a.seq}) was lost but batch ${bySeq[lastPresent]!.id} (seq ${bySeq[lastPresent]!.seq}) acknowledged after it survived: not a prefix of the log`);
    }
    const present = new Set<number>();
    for (const a of runAcks) if (counts.has(a.id)) present.add(a.id);
    return { batches: counts.size, torn: store.recovery.tornTailBytesTruncated > 0 ? 1 : 0, present };
  } finally {
    await store.close();
  }
}

export async function crashLoop(options: CrashLoopOptions): Promise<CrashLoopResult> {
  const t0 = Date.now();
  const tmp = await fs.mkdtemp(path.join(options.root ?? os.tmpdir(), 'lt-crash-'));
  const script = await childCommand(tmp);
  const lanes = Math.max(1, options.lanes ?? 1);
  const result: CrashLoopResult = { kills: 0, namedKills: {}, randomKills: 0, cleanExits: 0, acked: 0, ackedRelaxed: 0, relaxedLost: 0, batchesSeen: 0, tornTails: 0, ms: 0 };
  try {
    const per = Math.ceil(options.kills / lanes);
    const parts = await Promise.all(
      Array.from({ length: lanes }, (_, i) => lane(script, path.join(tmp, `data${i}`), Math.min(per, options.kills - i * per), (options.seed ?? 12345) + i * 7919, options)),
    );
    for (const r of parts) {
      result.kills += r.kills;
      result.randomKills += r.randomKills;
      result.cleanExits += r.cleanExits;
      result.acked += r.acked;
      result.ackedRelaxed += r.ackedRelaxed;
      result.relaxedLost += r.relaxedLost;
      result.batchesSeen += r.batchesSeen;
      result.tornTails += r.tornTails;
      for (const [k, v] of Object.entries(r.namedKills)) result.namedKills[k] = (result.namedKills[k] ?? 0) + v;
    }
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
  result.ms = Date.now() - t0;
  return result;
}

async function lane(script: { exe: string; args: string[] }, base: string, kills: number, seed: number, options: CrashLoopOptions): Promise<CrashLoopResult> {
  const rand = rng(seed);
  // acknowledged batches that must stay: strict ones, and relaxed ones a check found present
  let acked = new Set<number>();
  let ackedBefore = 0;
  let generation = 0;
  let dir = base;
  const result: CrashLoopResult = { kills: 0, namedKills: {}, randomKills: 0, cleanExits: 0, acked: 0, ackedRelaxed: 0, relaxedLost: 0, batchesSeen: 0, tornTails: 0, ms: 0 };
  let run = 0;
  let namedRuns = 0;
  const pointStart = Math.floor(rand() * killPoints.length);
  while (result.kills < kills) {
    run++;
    const env: Record<string, string> = { DIR: dir, START: String(run * 1_000_000), WRITERS: String(4 + Math.floor(rand() * 16)) };
    let kill: { afterMs: number; fromReady: boolean } | null = null;
    const r = rand();
    if (r < 0.5) {
      // named point, at its 1st..4th occurrence
      // the points in turn (from a random start per lane), so a short loop still reaches each
      const point = killPoints[(pointStart + namedRuns++) % killPoints.length]!;
      env['KILL_AT'] = point;
      env['KILL_COUNT'] = String(1 + Math.floor(rand() * (point.startsWith('compaction') ? 2 : 4)));
      env['BATCHES'] = String(600);
      kill = { afterMs: 3000, fromReady: false }; // safety net when the point is not reached
    } else if (r < 0.65) {
      kill = { afterMs: Math.floor(rand() * 400), fromReady: false }; // during startup / recovery
      env['BATCHES'] = String(100_000);
    } else if (r < 0.97) {
      kill = { afterMs: Math.floor(rand() * 80), fromReady: true }; // while writing
      env['BATCHES'] = String(100_000);
    } else {
      env['BATCHES'] = String(1 + Math.floor(rand() * 30)); // a clean run to the end
    }
    if (rand() < (options.mixedRuns ?? 0.25)) env['RELAXED'] = '0.5';
    // a third of the runs killed while writing write wide values into a larger memtable: spare WALs
    // made and switched to (a run of its own length: the checks after every kill read the whole store)
    if (kill?.fromReady === true && rand() < 1 / 3) env['WIDE'] = '1';
    const res = await runChild(script, env, kill);
    for (const a of res.acks) if (a.strict) acked.add(a.id);
    if (res.killed) {
      result.kills++;
      if (res.killedAt !== null) {
        if (res.killedAt !== env['KILL_AT']) throw new Error(`child killed itself at ${res.killedAt}, asked for ${env['KILL_AT']}`);
        result.namedKills[res.killedAt] = (result.namedKills[res.killedAt] ?? 0) + 1;
      } else result.randomKills++;
    } else result.cleanExits++;
    const verifyEvery = options.verifyEvery ?? 1;
    const c = await checkStore(dir, acked, result.kills % verifyEvery === 0, res.acks);
    for (const a of res.acks) {
      if (a.strict) continue;
      result.ackedRelaxed++;
      if (c.present.has(a.id)) acked.add(a.id);
      else result.relaxedLost++;
    }
    result.batchesSeen = c.batches;
    result.tornTails += c.torn;
    if (options.log !== undefined && result.kills % 100 === 0 && res.killed) options.log(`${dir}: ${result.kills} kills, ${acked.size} acked batches, ${c.batches} present`);
    if (options.freshEvery !== undefined && res.killed && result.kills % options.freshEvery === 0 && result.kills < kills) {
      await fs.rm(dir, { recursive: true, force: true });
      ackedBefore += acked.size;
      acked = new Set();
      dir = `${base}-${++generation}`;
    }
  }
  result.acked = ackedBefore + acked.size;
  return result;
}
