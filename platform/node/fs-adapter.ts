/**
 * NodeFsAdapter: the StorageAdapter (src/storage/adapter.ts) on a Node filesystem directory,
 * through node:fs/promises FileHandles. Also runs under Deno's node: compatibility layer.
 *
 * - One OS file per adapter file, in one flat directory (created if missing).
 * - Handles opened on the same name from one adapter share one OS file descriptor and one cached
 *   size, so concurrent `append`s get distinct offsets without a stat per call.
 * - `sync` = fdatasync of the file, plus an fsync of the directory the first time after a file was
 *   created (so a synced new file survives a crash with its name).
 * - `replace` = write `NAME~N.tmp`, fdatasync, rename over NAME, fsync the directory.
 * - `lock` = the LOCK protocol shared with the Deno adapter (platform/lock-file.ts): a file
 *   `~lock` created atomically (write a temp file, then link(2) it, which fails if it exists)
 *   holding {pid, start, host, token}. A lock whose pid is dead (or reused: /proc start time
 *   differs) on this host is stale and taken over with a rename so two takers cannot both win.
 *   Names containing `~` are not valid adapter names, so `list` never shows temp or lock files.
 * - Every failure is a LargetableError: IO_ERROR with { file, operation, location, errno },
 *   NOT_FOUND for a missing file, CLOSED after close, INVALID_ARGUMENT for a bad name.
 */
import * as fs from 'node:fs/promises';
import { constants as fsConstants } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import process from 'node:process';
import { ErrorCode, LargetableError } from '../../src/errors.ts';
import type { FileHandle, StorageAdapter } from '../../src/storage/adapter.ts';
import { acquireLockFile, lockFileName, releaseLockFile } from '../lock-file.ts';
import type { LockFs } from '../lock-file.ts';
import {
  checkByteCount,
  checkBytes,
  checkFileName,
  closedError,
  ioError,
  isValidFileName,
  lockedError,
  notFoundError,
} from '../memory.ts';

export { lockFileName };
const tempSuffix = '.tmp';

interface Shared {
  readonly fh: fs.FileHandle;
  /** Size including bytes reserved by writes in flight. */
  size: number;
  refs: number;
  /** Set when the last handle closed: an open() that raced with it must reopen. */
  closing?: boolean;
}

function errno(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
}

function wrap(location: string, file: string, operation: string, err: unknown): LargetableError {
  if (err instanceof LargetableError) return err;
  if (errno(err) === 'ENOENT') return notFoundError(location, file, operation, err);
  const e = ioError(location, file, operation, err);
  const code = errno(err);
  if (code === undefined) return e;
  return new LargetableError(ErrorCode.IO_ERROR, e.message, { cause: err, details: { ...e.details, errno: code } });
}

export interface NodeFsAdapterOptions {
  /** Create the directory if missing (default true). */
  create?: boolean;
}

/** Opens (creating if needed) a data directory as a StorageAdapter. */
export async function openNodeFsAdapter(dir: string, options: NodeFsAdapterOptions = {}): Promise<NodeFsAdapter> {
  const abs = path.resolve(dir);
  try {
    if (options.create === false) {
      const st = await fs.stat(abs);
      if (!st.isDirectory()) throw new Error('not a directory');
    } else {
      await fs.mkdir(abs, { recursive: true });
    }
  } catch (err) {
    throw wrap(dir, '.', 'openDirectory', err);
  }
  return new NodeFsAdapter(dir, abs);
}

export class NodeFsAdapter implements StorageAdapter {
  readonly location: string;
  readonly directory: string;
  readonly #open = new Map<string, Promise<Shared>>();
  #closed = false;
  #lockToken: string | undefined;
  #dirDirty = false;
  #tempCounter = 0;

  /** Use `openNodeFsAdapter` (it creates the directory). */
  constructor(location: string, absoluteDirectory: string) {
    this.location = location;
    this.directory = absoluteDirectory;
  }

  #path(name: string): string {
    return path.join(this.directory, name);
  }

  #check(file: string, operation: string): void {
    if (this.#closed) throw closedError(this.location, file, operation);
  }

  async open(name: string, options: { create?: boolean } = {}): Promise<FileHandle> {
    checkFileName(name, 'open');
    this.#check(name, 'open');
    let pending = this.#open.get(name);
    if (pending === undefined) {
      pending = this.#openShared(name, options.create === true);
      this.#open.set(name, pending);
      pending.catch(() => {
        if (this.#open.get(name) === pending) this.#open.delete(name);
      });
    } else if (options.create !== true) {
      // Already open here, so it exists (unless removed concurrently: then handles keep the inode).
    }
    const shared = await pending;
    if (this.#closed) throw closedError(this.location, name, 'open');
    if (shared.closing === true) return this.open(name, options); // lost a race with the last close
    shared.refs++;
    return new NodeFileHandle(this, name, shared, pending);
  }

  async #openShared(name: string, create: boolean): Promise<Shared> {
    const p = this.#path(name);
    let fh: fs.FileHandle;
    try {
      fh = await fs.open(p, 'r+');
    } catch (err) {
      if (errno(err) !== 'ENOENT' || !create) throw wrap(this.location, name, 'open', err);
      try {
        fh = await fs.open(p, fsConstants.O_RDWR | fsConstants.O_CREAT | fsConstants.O_EXCL, 0o644);
        this.#dirDirty = true;
      } catch (err2) {
        if (errno(err2) !== 'EEXIST') throw wrap(this.location, name, 'open', err2);
        try {
          fh = await fs.open(p, 'r+');
        } catch (err3) {
          throw wrap(this.location, name, 'open', err3);
        }
      }
    }
    try {
      const st = await fh.stat();
      return { fh, size: st.size, refs: 0 };
    } catch (err) {
      await fh.close().catch(() => {});
      throw wrap(this.location, name, 'open', err);
    }
  }

  /** @internal called by a handle's close. */
  async release(name: string, shared: Shared, pending: Promise<Shared>): Promise<void> {
    shared.refs--;
    if (shared.refs > 0) return;
    shared.closing = true;
    if (this.#open.get(name) === pending) this.#open.delete(name);
    try {
      await shared.fh.close();
    } catch (err) {
      throw wrap(this.location, name, 'close', err);
    }
  }

  /** @internal fsyncs the directory if a file was created since the last directory sync. */
  async syncDirectoryIfDirty(file: string): Promise<void> {
    if (!this.#dirDirty) return;
    this.#dirDirty = false;
    try {
      await this.#syncDirectory();
    } catch (err) {
      this.#dirDirty = true;
      throw wrap(this.location, file, 'syncDirectory', err);
    }
  }

  async #syncDirectory(): Promise<void> {
    let d: fs.FileHandle;
    try {
      d = await fs.open(this.directory, 'r');
    } catch (err) {
      if (process.platform === 'win32') return; // directories cannot be opened for fsync there
      throw err;
    }
    try {
      await d.sync();
    } catch (err) {
      const code = errno(err);
      if (code !== 'EINVAL' && code !== 'EPERM' && code !== 'EISDIR') throw err;
    } finally {
      await d.close();
    }
  }

  get closed(): boolean {
    return this.#closed;
  }

  async list(): Promise<string[]> {
    this.#check('*', 'list');
    try {
      const entries = await fs.readdir(this.directory, { withFileTypes: true });
      return entries
        .filter((e) => e.isFile() && isValidFileName(e.name))
        .map((e) => e.name)
        .sort();
    } catch (err) {
      throw wrap(this.location, '*', 'list', err);
    }
  }

  async exists(name: string): Promise<boolean> {
    checkFileName(name, 'exists');
    this.#check(name, 'exists');
    try {
      return (await fs.stat(this.#path(name))).isFile();
    } catch (err) {
      if (errno(err) === 'ENOENT') return false;
      throw wrap(this.location, name, 'exists', err);
    }
  }

  async remove(name: string): Promise<void> {
    checkFileName(name, 'remove');
    this.#check(name, 'remove');
    // Handles already open keep the unlinked file; later opens see a new file.
    this.#open.delete(name);
    try {
      await fs.unlink(this.#path(name));
    } catch (err) {
      throw wrap(this.location, name, 'remove', err);
    }
  }

  async replace(name: string, bytes: Uint8Array): Promise<void> {
    checkFileName(name, 'replace');
    checkBytes(bytes, name, 'replace');
    this.#check(name, 'replace');
    const tmp = this.#path(`${name}~${++this.#tempCounter}${tempSuffix}`);
    try {
      const fh = await fs.open(tmp, 'w', 0o644);
      try {
        let done = 0;
        while (done < bytes.length) {
          const { bytesWritten } = await fh.write(bytes, done, bytes.length - done, done);
          done += bytesWritten;
        }
        await fh.datasync();
      } finally {
        await fh.close();
      }
      this.#open.delete(name); // handles opened before keep the old inode
      await fs.rename(tmp, this.#path(name));
      this.#dirDirty = false;
      await this.#syncDirectory();
    } catch (err) {
      await fs.unlink(tmp).catch(() => {});
      throw wrap(this.location, name, 'replace', err);
    }
  }

  async readAll(name: string): Promise<Uint8Array> {
    checkFileName(name, 'readAll');
    this.#check(name, 'readAll');
    try {
      const buf = await fs.readFile(this.#path(name));
      return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    } catch (err) {
      throw wrap(this.location, name, 'readAll', err);
    }
  }

  async lock(): Promise<void> {
    this.#check(lockFileName, 'lock');
    if (this.#lockToken !== undefined) return;
    const token = await acquireLockFile(nodeLockFs, this.location, this.directory);
    this.#lockToken = token;
    // Leftover temp files of an interrupted `replace` belong to the previous writer.
    try {
      for (const e of await fs.readdir(this.directory)) {
        if (e.includes('~') && e.endsWith(tempSuffix)) await fs.unlink(this.#path(e)).catch(() => {});
      }
    } catch {
      // best effort
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const errors: unknown[] = [];
    for (const [name, pending] of this.#open) {
      try {
        const shared = await pending;
        shared.refs = 0;
        await shared.fh.close();
      } catch (err) {
        if (!(err instanceof LargetableError)) errors.push(wrap(this.location, name, 'close', err));
      }
    }
    this.#open.clear();
    if (this.#lockToken !== undefined) {
      const token = this.#lockToken;
      this.#lockToken = undefined;
      try {
        await releaseLockFile(nodeLockFs, this.directory, token);
      } catch (err) {
        errors.push(wrap(this.location, lockFileName, 'unlock', err));
      }
    }
    if (errors.length > 0) throw errors[0];
  }
}

class NodeFileHandle implements FileHandle {
  readonly name: string;
  readonly #adapter: NodeFsAdapter;
  readonly #shared: Shared;
  readonly #pending: Promise<Shared>;
  #closed = false;

  constructor(adapter: NodeFsAdapter, name: string, shared: Shared, pending: Promise<Shared>) {
    this.#adapter = adapter;
    this.name = name;
    this.#shared = shared;
    this.#pending = pending;
  }

  #check(operation: string): void {
    if (this.#closed || this.#adapter.closed) throw closedError(this.#adapter.location, this.name, operation);
  }

  #fail(operation: string, err: unknown): LargetableError {
    if (this.#adapter.closed) return closedError(this.#adapter.location, this.name, operation);
    return wrap(this.#adapter.location, this.name, operation, err);
  }

  async #refreshSize(): Promise<void> {
    const st = await this.#shared.fh.stat();
    if (st.size > this.#shared.size) this.#shared.size = st.size;
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    checkByteCount(offset, 'offset', this.name, 'read');
    checkByteCount(length, 'length', this.name, 'read');
    this.#check('read');
    try {
      if (offset + length > this.#shared.size) await this.#refreshSize();
      const n = Math.max(0, Math.min(length, this.#shared.size - offset));
      const buf = new Uint8Array(n);
      let got = 0;
      while (got < n) {
        const { bytesRead } = await this.#shared.fh.read(buf, got, n - got, offset + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      return got === n ? buf : buf.slice(0, got);
    } catch (err) {
      throw this.#fail('read', err);
    }
  }

  async #writeAt(offset: number, bytes: Uint8Array, operation: string): Promise<void> {
    const s = this.#shared;
    try {
      let done = 0;
      while (done < bytes.length) {
        const { bytesWritten } = await s.fh.write(bytes, done, bytes.length - done, offset + done);
        done += bytesWritten;
      }
    } catch (err) {
      await this.#resetSize();
      throw this.#fail(operation, err);
    }
  }

  async #resetSize(): Promise<void> {
    try {
      this.#shared.size = (await this.#shared.fh.stat()).size;
    } catch {
      // keep the reservation; the next failing call reports the error
    }
  }

  async write(offset: number, bytes: Uint8Array): Promise<void> {
    checkByteCount(offset, 'offset', this.name, 'write');
    checkBytes(bytes, this.name, 'write');
    this.#check('write');
    const end = offset + bytes.length;
    if (end > this.#shared.size) this.#shared.size = end; // reserve before awaiting
    if (bytes.length === 0) {
      // POSIX does not extend a file on an empty write: extend explicitly (zero-filled).
      try {
        const st = await this.#shared.fh.stat();
        if (st.size < offset) await this.#shared.fh.truncate(offset);
      } catch (err) {
        throw this.#fail('write', err);
      }
      return;
    }
    await this.#writeAt(offset, bytes, 'write');
  }

  async append(bytes: Uint8Array): Promise<number> {
    checkBytes(bytes, this.name, 'append');
    this.#check('append');
    const offset = this.#shared.size;
    this.#shared.size = offset + bytes.length; // reserve before awaiting
    if (bytes.length > 0) await this.#writeAt(offset, bytes, 'append');
    return offset;
  }

  async size(): Promise<number> {
    this.#check('size');
    return this.#shared.size;
  }

  async truncate(length: number): Promise<void> {
    checkByteCount(length, 'length', this.name, 'truncate');
    this.#check('truncate');
    this.#shared.size = length;
    try {
      await this.#shared.fh.truncate(length);
    } catch (err) {
      await this.#resetSize();
      throw this.#fail('truncate', err);
    }
  }

  async sync(): Promise<void> {
    this.#check('sync');
    try {
      await this.#shared.fh.datasync();
    } catch (err) {
      throw this.#fail('sync', err);
    }
    await this.#adapter.syncDirectoryIfDirty(this.name);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#adapter.closed) return;
    await this.#adapter.release(this.name, this.#shared, this.#pending);
  }
}

// ---------------------------------------------------------------------------------------------
// LOCK protocol (platform/lock-file.ts) on node:fs.
// ---------------------------------------------------------------------------------------------

const nodeLockFs: LockFs = {
  writeFile: (p, text) => fs.writeFile(p, text, { flag: 'wx' }),
  readFile: (p) => fs.readFile(p, 'utf8'),
  link: (a, b) => fs.link(a, b),
  rename: (a, b) => fs.rename(a, b),
  unlink: (p) => fs.unlink(p),
  errno,
  pid: process.pid,
  host: os.hostname(),
  async procStat(pid) {
    if (process.platform !== 'linux') return null;
    try {
      return await fs.readFile(`/proc/${pid}/stat`, 'utf8');
    } catch {
      return null;
    }
  },
  signalProbe(pid) {
    try {
      process.kill(pid, 0);
      return true;
    } catch (err) {
      return errno(err) === 'EPERM';
    }
  },
  wrap,
};
