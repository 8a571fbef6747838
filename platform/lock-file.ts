/**
 * The single-writer LOCK protocol of filesystem data directories, shared by the Node and Deno
 * adapters (runtime-neutral: the filesystem calls come in a `LockFs`), so a Node process and a
 * Deno process exclude each other on the same directory.
 *
 * - `DIR/~lock` holds JSON {pid, start, host, token}. It is created atomically: the record is
 *   written to `~lock.TOKEN`, then hard-linked to `~lock`, which fails with EEXIST if it exists.
 * - An existing lock is stale when its host is this host and its pid is dead (gone, zombie or
 *   dying in /proc, or a failed signal-0 probe), or the pid was reused (the /proc start time differs), or the pid is ours but not held by this process's
 *   adapters. A lock from another host is never stale (remove it by hand).
 * - A stale lock is taken over by renaming it aside first and checking that the renamed file is
 *   the one judged stale, so two processes recovering at once cannot both win.
 * - `~` is not allowed in adapter file names, so the lock and temp files never show in `list()`.
 */
import { LargetableError } from '../src/errors.ts';
import { lockedError } from './memory.ts';

/** Name of the lock file inside a data directory. */
export const lockFileName = '~lock';

/** The content of `~lock`, JSON. */
export interface LockRecord {
  pid: number;
  /** Process start time from /proc/PID/stat (Linux), to detect pid reuse; null elsewhere. */
  start: string | null;
  host: string;
  token: string;
}

/** The filesystem and process calls the protocol needs (paths are joined with `/`). */
export interface LockFs {
  /** Creates a new file (fails if it exists). */
  writeFile(p: string, text: string): Promise<void>;
  readFile(p: string): Promise<string>;
  link(from: string, to: string): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  unlink(p: string): Promise<void>;
  /** 'ENOENT', 'EEXIST', ... of a failed call. */
  errno(err: unknown): string | undefined;
  readonly pid: number;
  readonly host: string;
  /** /proc/PID/stat text (Linux), or null when it cannot be read. */
  procStat(pid: number): Promise<string | null>;
  /** Signal-0 probe where the runtime has one; undefined when it cannot tell. */
  signalProbe(pid: number): boolean | undefined;
  /** Turns a failed call into a LargetableError naming the file and operation. */
  wrap(location: string, file: string, operation: string, err: unknown): LargetableError;
}

/** Field 22 (starttime) of /proc/PID/stat; the command name (field 2) may hold spaces. */
export function procStartTime(stat: string): string | null {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return fields[19] ?? null;
}

/** Field 3 (state letter) of /proc/PID/stat. */
function procState(stat: string): string {
  return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
}

async function startTimeOf(lfs: LockFs, pid: number): Promise<string | null> {
  const stat = await lfs.procStat(pid);
  return stat === null ? null : procStartTime(stat);
}

/** Alive = /proc says so (zombies and dying processes are dead), else the signal-0 probe. */
async function isAlive(lfs: LockFs, rec: LockRecord): Promise<boolean> {
  const stat = await lfs.procStat(rec.pid);
  if (stat !== null) {
    const state = procState(stat);
    if (state === 'Z' || state === 'X' || state === 'x') return false;
    return rec.start === null || procStartTime(stat) === rec.start; // else the pid was reused
  }
  const probe = lfs.signalProbe(rec.pid);
  if (probe !== undefined) return probe;
  return rec.start === null; // a Linux lock whose /proc entry is gone is dead; elsewhere unknown = alive
}

let tokens = 0;
/**
 * A token unique among this host's locks: the pid (no two live processes share it), the time, a
 * per-process counter and a random part. Not `crypto.getRandomValues`: nothing here needs
 * unpredictability, and Node loads its Web Crypto on first use, ~1-5 ms of a cold open.
 */
function lockToken(pid: number): string {
  const rnd = Math.floor(Math.random() * 2 ** 32).toString(16);
  return `${pid.toString(16)}-${Date.now().toString(16)}-${(++tokens).toString(16)}-${rnd}`;
}

export function parseLockRecord(text: string): LockRecord | undefined {
  try {
    const r = JSON.parse(text) as Partial<LockRecord>;
    if (typeof r.pid === 'number' && typeof r.host === 'string' && typeof r.token === 'string') {
      return { pid: r.pid, host: r.host, token: r.token, start: typeof r.start === 'string' ? r.start : null };
    }
  } catch {
    // not a lock record
  }
  return undefined;
}

/** Tokens of locks held by this process (a same-pid lock not in here is stale). */
const heldTokens = new Set<string>();

async function isStale(lfs: LockFs, rec: LockRecord | undefined): Promise<boolean> {
  if (rec === undefined) return true; // the record is written before the link: unreadable = garbage
  if (rec.host !== lfs.host) return false;
  if (rec.pid === lfs.pid) return !heldTokens.has(rec.token);
  return !(await isAlive(lfs, rec));
}

function holderOf(rec: LockRecord | undefined): string {
  return rec === undefined ? 'unknown holder' : `pid ${rec.pid} on ${rec.host}`;
}

/** Creates `dir/~lock` for this process or throws LOCKED. Returns the lock token. */
export async function acquireLockFile(lfs: LockFs, location: string, dir: string): Promise<string> {
  const lockPath = `${dir}/${lockFileName}`;
  const token = lockToken(lfs.pid);
  const record: LockRecord = { pid: lfs.pid, start: await startTimeOf(lfs, lfs.pid), host: lfs.host, token };
  const tmp = `${dir}/${lockFileName}.${token}`;
  try {
    await lfs.writeFile(tmp, JSON.stringify(record));
  } catch (err) {
    throw lfs.wrap(location, lockFileName, 'lock', err);
  }
  try {
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        await lfs.link(tmp, lockPath);
        heldTokens.add(token);
        return token;
      } catch (err) {
        if (lfs.errno(err) !== 'EEXIST') throw lfs.wrap(location, lockFileName, 'lock', err);
      }
      let text: string;
      try {
        text = await lfs.readFile(lockPath);
      } catch (err) {
        if (lfs.errno(err) === 'ENOENT') continue; // released meanwhile
        throw lfs.wrap(location, lockFileName, 'lock', err);
      }
      const rec = parseLockRecord(text);
      if (!(await isStale(lfs, rec))) throw lockedError(location, holderOf(rec));
      const aside = `${dir}/${lockFileName}.stale.${token}`;
      try {
        await lfs.rename(lockPath, aside);
      } catch (err) {
        if (lfs.errno(err) === 'ENOENT') continue;
        throw lfs.wrap(location, lockFileName, 'lock', err);
      }
      let moved = '';
      try {
        moved = await lfs.readFile(aside);
      } catch {
        // gone: treat as the stale one
      }
      if (moved !== '' && moved !== text) {
        // We moved a fresh lock someone took in between: put it back and report LOCKED.
        await lfs.link(aside, lockPath).catch(() => {});
        await lfs.unlink(aside).catch(() => {});
        throw lockedError(location, holderOf(parseLockRecord(moved)));
      }
      await lfs.unlink(aside).catch(() => {});
    }
    throw lockedError(location, 'contended');
  } finally {
    await lfs.unlink(tmp).catch(() => {});
  }
}

/** Removes `dir/~lock` if it still holds `token`. */
export async function releaseLockFile(lfs: LockFs, dir: string, token: string): Promise<void> {
  heldTokens.delete(token);
  const lockPath = `${dir}/${lockFileName}`;
  let text: string;
  try {
    text = await lfs.readFile(lockPath);
  } catch (err) {
    if (lfs.errno(err) === 'ENOENT') return;
    throw err;
  }
  if (parseLockRecord(text)?.token === token) {
    try {
      await lfs.unlink(lockPath);
    } catch (err) {
      if (lfs.errno(err) !== 'ENOENT') throw err;
    }
  }
}
