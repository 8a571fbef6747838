/**
 * DenoFsAdapter: the StorageAdapter (src/storage/adapter.ts) on a directory through Deno's own
 * file API (Deno.open / Deno.FsFile). Same on-disk layout and LOCK protocol as the Node adapter
 * (platform/lock-file.ts), so a directory written by one runtime opens in the other, and a Node
 * writer and a Deno writer exclude each other.
 *
 * - Deno.FsFile has no positional read/write, so each OS file has one queue: seek+read and
 *   seek+write pairs run one at a time. Sizes are reserved synchronously, so concurrent appends
 *   get distinct offsets.
 * - `sync` = FsFile.syncData(), plus a directory fsync after a file was created.
 * - `replace` = write `NAME~N.tmp`, syncData, Deno.rename over NAME, fsync the directory.
 * - Errors: IO_ERROR { file, operation, location, errno }, NOT_FOUND, CLOSED, INVALID_ARGUMENT.
 *
 * This file may use the Deno global; the minimal types below let it typecheck under the Node
 * tsconfig, which has no Deno types.
 */
import { ErrorCode, LargetableError } from '../../src/errors.ts';
import type { FileHandle, StorageAdapter } from '../../src/storage/adapter.ts';
import { FsAdapterBase, FsHandleBase, makeWrap, openDirectory, openOrCreate } from '../fs-common.ts';
import type { SharedFile } from '../fs-common.ts';
import type { LockFs } from '../lock-file.ts';
import { checkByteCount, closedError } from '../memory.ts';

// ---------------------------------------------------------------------------------------------
// Minimal Deno types (only what this file uses).
// ---------------------------------------------------------------------------------------------
interface DenoFsFile {
  read(p: Uint8Array): Promise<number | null>;
  write(p: Uint8Array): Promise<number>;
  seek(offset: number, whence: number): Promise<number>;
  truncate(len?: number): Promise<void>;
  syncData(): Promise<void>;
  sync(): Promise<void>;
  stat(): Promise<{ size: number; isFile: boolean }>;
  close(): void;
}
interface DenoOpenOptions {
  read?: boolean;
  write?: boolean;
  create?: boolean;
  createNew?: boolean;
  truncate?: boolean;
  mode?: number;
}
interface DenoApi {
  open(path: string, options?: DenoOpenOptions): Promise<DenoFsFile>;
  mkdir(path: string, options?: { recursive?: boolean }): Promise<void>;
  stat(path: string): Promise<{ isFile: boolean; isDirectory: boolean; size: number }>;
  readDir(path: string): AsyncIterable<{ name: string; isFile: boolean }>;
  readFile(path: string): Promise<Uint8Array>;
  readTextFile(path: string): Promise<string>;
  writeTextFile(path: string, data: string, options?: { createNew?: boolean }): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  remove(path: string): Promise<void>;
  link(from: string, to: string): Promise<void>;
  realPath(path: string): Promise<string>;
  cwd(): string;
  hostname(): string;
  readonly pid: number;
  readonly build: { os: string };
  readonly errors: Record<string, new (...args: never[]) => Error>;
}
declare const Deno: DenoApi;

const seekStart = 0; // Deno.SeekMode.Start

/** ENOENT, EEXIST, ... of a Deno error (Deno errors carry `code`; classes as a fallback). */
function errno(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof (err as { code: unknown }).code === 'string') {
    return (err as { code: string }).code;
  }
  if (typeof Deno !== 'undefined') {
    if (Deno.errors['NotFound'] !== undefined && err instanceof Deno.errors['NotFound']) return 'ENOENT';
    if (Deno.errors['AlreadyExists'] !== undefined && err instanceof Deno.errors['AlreadyExists']) return 'EEXIST';
    if (Deno.errors['IsADirectory'] !== undefined && err instanceof Deno.errors['IsADirectory']) return 'EISDIR';
  }
  return undefined;
}

const wrap = makeWrap(errno);

function joinPath(dir: string, name: string): string {
  return dir.endsWith('/') ? dir + name : `${dir}/${name}`;
}

function resolvePath(p: string): string {
  if (p.startsWith('/') || /^[A-Za-z]:[\\/]/.test(p)) return p;
  return joinPath(Deno.cwd(), p.startsWith('./') ? p.slice(2) : p);
}

interface Shared extends SharedFile {
  readonly file: DenoFsFile;
  /** Tail of the per-file operation queue (seek+read/write pairs must not interleave). */
  queue: Promise<unknown>;
  closed: boolean;
}

function enqueue<T>(s: Shared, op: () => Promise<T>): Promise<T> {
  const run = s.queue.then(op, op);
  s.queue = run.catch(() => {});
  return run;
}

export interface DenoFsAdapterOptions {
  /** Create the directory if missing (default true). */
  create?: boolean;
}

/** Opens (creating if needed) a data directory as a StorageAdapter, with Deno APIs. */
export async function openDenoFsAdapter(dir: string, options: DenoFsAdapterOptions = {}): Promise<DenoFsAdapter> {
  if (typeof Deno === 'undefined') {
    throw new LargetableError(ErrorCode.UNSUPPORTED_STORAGE, 'the Deno filesystem adapter needs the Deno runtime');
  }
  const abs = resolvePath(dir);
  await openDirectory(dir, options.create !== false, async () => (await Deno.stat(abs)).isDirectory, () => Deno.mkdir(abs, { recursive: true }), wrap);
  return new DenoFsAdapter(dir, abs);
}

/** The Deno API primitives under FsAdapterBase (platform/fs-common.ts). */
export class DenoFsAdapter extends FsAdapterBase<Shared> implements StorageAdapter {
  /** Use `openDenoFsAdapter` (it creates the directory). */
  constructor(location: string, absoluteDirectory: string) {
    super(location, absoluteDirectory, wrap);
  }

  protected path(name: string): string {
    return joinPath(this.directory, name);
  }

  protected errno(err: unknown): string | undefined {
    return errno(err);
  }

  protected newHandle(name: string, shared: Shared, pending: Promise<Shared>): FileHandle {
    return new DenoFileHandle(this, name, shared, pending);
  }

  /** Deno.open has no O_DSYNC: the writeThrough hint is ignored (sync does an fdatasync). */
  protected async openShared(name: string, create: boolean, _writeThrough: boolean): Promise<Shared> {
    const p = this.path(name);
    let createdGen = 0;
    const file = await openOrCreate(
      () => Deno.open(p, { read: true, write: true }),
      () => Deno.open(p, { read: true, write: true, createNew: true, mode: 0o644 }),
      create,
      errno,
      (err) => wrap(this.location, name, 'open', err),
      () => {
        createdGen = this.noteCreated();
      },
    );
    try {
      const st = await file.stat();
      if (!st.isFile) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
      return { file, size: st.size, refs: 0, queue: Promise.resolve(), closed: false, createdGen };
    } catch (err) {
      try {
        file.close();
      } catch {
        // already failing
      }
      throw wrap(this.location, name, 'open', err);
    }
  }

  /** Closes the file in its queue, after the reads and writes already queued. */
  protected closeShared(shared: Shared): Promise<void> {
    return enqueue(shared, async () => {
      if (!shared.closed) {
        shared.closed = true;
        shared.file.close();
      }
    });
  }

  protected async syncDirectory(): Promise<void> {
    if (Deno.build.os === 'windows') return; // directories cannot be opened for fsync there
    const d = await Deno.open(this.directory, { read: true });
    try {
      await d.sync();
    } catch (err) {
      const code = errno(err);
      if (code !== 'EINVAL' && code !== 'EPERM' && code !== 'EISDIR') throw err;
    } finally {
      d.close();
    }
  }

  protected async readEntries(): Promise<{ name: string; isFile: boolean }[]> {
    const entries: { name: string; isFile: boolean }[] = [];
    for await (const e of Deno.readDir(this.directory)) entries.push({ name: e.name, isFile: e.isFile });
    return entries;
  }

  protected async statIsFile(p: string): Promise<boolean> {
    return (await Deno.stat(p)).isFile;
  }

  protected readFileBytes(p: string): Promise<Uint8Array> {
    return Deno.readFile(p);
  }

  protected async removeFile(p: string): Promise<void> {
    const st = await Deno.stat(p);
    if (!st.isFile) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
    await Deno.remove(p);
  }

  protected unlinkPath(p: string): Promise<void> {
    return Deno.remove(p);
  }

  protected renamePath(from: string, to: string): Promise<void> {
    return Deno.rename(from, to);
  }

  protected async writeFileSynced(p: string, bytes: Uint8Array): Promise<void> {
    const f = await Deno.open(p, { write: true, create: true, truncate: true, mode: 0o644 });
    try {
      let done = 0;
      while (done < bytes.length) done += await f.write(bytes.subarray(done));
      await f.syncData();
    } finally {
      f.close();
    }
  }

  protected lockFs(): LockFs {
    return denoLockFs();
  }
}

class DenoFileHandle extends FsHandleBase<Shared> implements FileHandle {
  /** Runs `op` in the file's queue, mapping failures (and a close that won the race) to errors. */
  #run<T>(operation: string, op: (f: DenoFsFile) => Promise<T>): Promise<T> {
    return enqueue(this.shared, async () => {
      if (this.shared.closed) throw closedError(this.adapter.location, this.name, operation);
      try {
        return await op(this.shared.file);
      } catch (err) {
        throw wrap(this.adapter.location, this.name, operation, err);
      }
    });
  }

  protected async statSize(): Promise<number> {
    return (await this.shared.file.stat()).size;
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    checkByteCount(offset, 'offset', this.name, 'read');
    checkByteCount(length, 'length', this.name, 'read');
    this.check('read');
    return this.#run('read', async (f) => {
      if (offset + length > this.shared.size) {
        const st = await f.stat();
        if (st.size > this.shared.size) this.shared.size = st.size;
      }
      const n = Math.max(0, Math.min(length, this.shared.size - offset));
      const buf = new Uint8Array(n);
      if (n === 0) return buf;
      await f.seek(offset, seekStart);
      let got = 0;
      while (got < n) {
        const r = await f.read(buf.subarray(got));
        if (r === null || r === 0) break;
        got += r;
      }
      return got === n ? buf : buf.slice(0, got);
    });
  }

  async readInto(offset: number, target: Uint8Array): Promise<number> {
    checkByteCount(offset, 'offset', this.name, 'read');
    this.check('read');
    return this.#run('read', async (f) => {
      const length = target.length;
      if (offset + length > this.shared.size) {
        const st = await f.stat();
        if (st.size > this.shared.size) this.shared.size = st.size;
      }
      const n = Math.max(0, Math.min(length, this.shared.size - offset));
      if (n === 0) return 0;
      await f.seek(offset, seekStart);
      let got = 0;
      while (got < n) {
        const r = await f.read(target.subarray(got, n));
        if (r === null || r === 0) break;
        got += r;
      }
      return got;
    });
  }

  /** Copies `bytes` first: the write runs later, in the file's queue. */
  protected async writeAt(offset: number, input: Uint8Array, operation: string): Promise<void> {
    const bytes = input.slice();
    try {
      await this.#run(operation, async (f) => {
        if (bytes.length === 0) {
          const st = await f.stat();
          if (st.size < offset) await f.truncate(offset);
          return;
        }
        await f.seek(offset, seekStart);
        let done = 0;
        while (done < bytes.length) done += await f.write(bytes.subarray(done));
      });
    } catch (err) {
      await this.resetSize();
      throw err;
    }
  }

  async truncate(length: number): Promise<void> {
    checkByteCount(length, 'length', this.name, 'truncate');
    this.check('truncate');
    this.shared.size = length;
    try {
      await this.#run('truncate', (f) => f.truncate(length));
    } catch (err) {
      await this.resetSize();
      throw err;
    }
  }

  async sync(): Promise<void> {
    this.check('sync');
    await this.#run('sync', (f) => f.syncData());
    await this.adapter.syncDirectoryFor(this.name, this.shared.createdGen);
  }
}

// ---------------------------------------------------------------------------------------------
// LOCK protocol (platform/lock-file.ts) on Deno APIs.
// ---------------------------------------------------------------------------------------------

let lockFs: LockFs | undefined;

function denoLockFs(): LockFs {
  if (lockFs !== undefined) return lockFs;
  const onLinux = Deno.build.os === 'linux';
  lockFs = {
    writeFile: (p, text) => Deno.writeTextFile(p, text, { createNew: true }),
    readFile: (p) => Deno.readTextFile(p),
    link: (a, b) => Deno.link(a, b),
    rename: (a, b) => Deno.rename(a, b),
    unlink: (p) => Deno.remove(p),
    errno,
    pid: Deno.pid,
    host: Deno.hostname(),
    async procStat(pid) {
      if (!onLinux) return null;
      try {
        return await Deno.readTextFile(`/proc/${pid}/stat`);
      } catch {
        return null;
      }
    },
    signalProbe: () => undefined, // no signal-0 probe in the Deno API
    wrap,
  };
  return lockFs;
}
