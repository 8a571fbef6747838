/**
 * NodeFsAdapter: the StorageAdapter (src/storage/adapter.ts) on a Node filesystem directory,
 * through node:fs/promises FileHandles. Also runs under Deno's node: compatibility layer.
 *
 * - One OS file per adapter file, in one flat directory (created if missing).
 * - Handles opened on the same name from one adapter share one OS file descriptor and one cached
 *   size, so concurrent `append`s get distinct offsets without a stat per call.
 * - `sync` = fdatasync of the file, plus, for a file this adapter created, an fsync of the directory
 *   unless one that began after its creation completed (so a synced new file survives a crash with
 *   its name; syncs of other files do not wait for it). A file opened `writeThrough`
 *   uses O_DSYNC: each write is durable when it resolves (one system call, one threadpool hop), and
 *   `sync` does an fdatasync only after a truncate (which O_DSYNC does not cover).
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
import { constants as fsConstants, readSync, writeSync, writevSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import process from 'node:process';
import { setImmediate } from 'node:timers';
import type { LargetableError } from '../../src/errors.ts';
import type { FileHandle, StorageAdapter } from '../../src/storage/adapter.ts';
import { FsAdapterBase, FsHandleBase, makeWrap, openDirectory, openOrCreate } from '../fs-common.ts';
import type { SharedFile } from '../fs-common.ts';
import { lockFileName } from '../lock-file.ts';
import type { LockFs } from '../lock-file.ts';
import { checkByteCount, closedError } from '../memory.ts';

/** writeDurableSync's argument to writevSync (its one buffer set for the call: nothing kept alive after). */
const noBytes = new Uint8Array(0);
const oneBuffer: Uint8Array[] = [noBytes];

export { lockFileName };

interface Shared extends SharedFile {
  readonly fh: fs.FileHandle;
  /** Opened with O_DSYNC: writes are durable when they resolve. */
  readonly writeThrough: boolean;
  /** A truncate since the last fdatasync (O_DSYNC covers writes only). */
  syncNeeded: boolean;
}

function errno(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
}

const wrap = makeWrap(errno);

export interface NodeFsAdapterOptions {
  /** Create the directory if missing (default true). */
  create?: boolean;
}

/** Opens (creating if needed) a data directory as a StorageAdapter. */
export async function openNodeFsAdapter(dir: string, options: NodeFsAdapterOptions = {}): Promise<NodeFsAdapter> {
  const abs = path.resolve(dir);
  await openDirectory(
    dir,
    options.create !== false,
    async () => (await fs.stat(abs)).isDirectory(),
    async () => {
      await fs.mkdir(abs, { recursive: true });
    },
    wrap,
  );
  return new NodeFsAdapter(dir, abs);
}

/** The node:fs primitives under FsAdapterBase (platform/fs-common.ts). */
export class NodeFsAdapter extends FsAdapterBase<Shared> implements StorageAdapter {
  /** Use `openNodeFsAdapter` (it creates the directory). */
  constructor(location: string, absoluteDirectory: string) {
    super(location, absoluteDirectory, wrap);
  }

  protected path(name: string): string {
    return path.join(this.directory, name);
  }

  protected errno(err: unknown): string | undefined {
    return errno(err);
  }

  protected newHandle(name: string, shared: Shared, pending: Promise<Shared>): FileHandle {
    return new NodeFileHandle(this, name, shared, pending);
  }

  protected async openShared(name: string, create: boolean, writeThrough: boolean): Promise<Shared> {
    const p = this.path(name);
    const dsync = writeThrough && fsConstants.O_DSYNC !== undefined ? fsConstants.O_DSYNC : 0;
    let createdGen = 0;
    const fh = await openOrCreate(
      () => fs.open(p, fsConstants.O_RDWR | dsync),
      () => fs.open(p, fsConstants.O_RDWR | fsConstants.O_CREAT | fsConstants.O_EXCL | dsync, 0o644),
      create,
      errno,
      (err) => wrap(this.location, name, 'open', err),
      () => {
        createdGen = this.noteCreated();
      },
    );
    try {
      const st = await fh.stat();
      return { fh, size: st.size, refs: 0, writeThrough: dsync !== 0, syncNeeded: false, createdGen };
    } catch (err) {
      await fh.close().catch(() => {});
      throw wrap(this.location, name, 'open', err);
    }
  }

  protected closeShared(shared: Shared): Promise<void> {
    return shared.fh.close();
  }

  protected async syncDirectory(): Promise<void> {
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

  protected async readEntries(): Promise<{ name: string; isFile: boolean }[]> {
    const entries = await fs.readdir(this.directory, { withFileTypes: true });
    return entries.map((e) => ({ name: e.name, isFile: e.isFile() }));
  }

  protected async statIsFile(p: string): Promise<boolean> {
    return (await fs.stat(p)).isFile();
  }

  protected async readFileBytes(p: string): Promise<Uint8Array> {
    const buf = await fs.readFile(p);
    return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  protected removeFile(p: string): Promise<void> {
    return fs.unlink(p);
  }

  protected unlinkPath(p: string): Promise<void> {
    return fs.unlink(p);
  }

  protected renamePath(from: string, to: string): Promise<void> {
    return fs.rename(from, to);
  }

  protected async writeFileSynced(p: string, bytes: Uint8Array): Promise<void> {
    const fh = await fs.open(p, 'w', 0o644);
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
  }

  protected lockFs(): LockFs {
    return nodeLockFs;
  }
}

class NodeFileHandle extends FsHandleBase<Shared> implements FileHandle {
  #fail(operation: string, err: unknown): LargetableError {
    if (this.adapter.closed) return closedError(this.adapter.location, this.name, operation);
    return wrap(this.adapter.location, this.name, operation, err);
  }

  async #refreshSize(): Promise<void> {
    const st = await this.shared.fh.stat();
    if (st.size > this.shared.size) this.shared.size = st.size;
  }

  protected async statSize(): Promise<number> {
    return (await this.shared.fh.stat()).size;
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    checkByteCount(offset, 'offset', this.name, 'read');
    checkByteCount(length, 'length', this.name, 'read');
    this.check('read');
    try {
      if (offset + length > this.shared.size) await this.#refreshSize();
      const n = Math.max(0, Math.min(length, this.shared.size - offset));
      const buf = new Uint8Array(n);
      let got = 0;
      while (got < n) {
        const { bytesRead } = await this.shared.fh.read(buf, got, n - got, offset + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      return got === n ? buf : buf.slice(0, got);
    } catch (err) {
      throw this.#fail('read', err);
    }
  }

  async readInto(offset: number, target: Uint8Array): Promise<number> {
    checkByteCount(offset, 'offset', this.name, 'read');
    this.check('read');
    try {
      const length = target.length;
      if (offset + length > this.shared.size) await this.#refreshSize();
      const n = Math.max(0, Math.min(length, this.shared.size - offset));
      let got = 0;
      while (got < n) {
        const { bytesRead } = await this.shared.fh.read(target, got, n - got, offset + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      return got;
    } catch (err) {
      throw this.#fail('read', err);
    }
  }

  readIntoSync(offset: number, target: Uint8Array): number {
    checkByteCount(offset, 'offset', this.name, 'read');
    this.check('read');
    const s = this.shared;
    // past the size this handle knows: the asynchronous path (which stats the file) serves it
    if (offset + target.length > s.size) return -1;
    try {
      // pread(2) on this thread: a block the OS holds in its page cache costs microseconds, less
      // than the thread-pool round trip of `readInto`
      let got = 0;
      while (got < target.length) {
        const n = readSync(s.fh.fd, target, got, target.length - got, offset + got);
        if (n === 0) break;
        got += n;
      }
      return got;
    } catch (err) {
      throw this.#fail('read', err);
    }
  }

  protected async writeAt(offset: number, bytes: Uint8Array, operation: string): Promise<void> {
    const s = this.shared;
    if (bytes.length === 0) {
      // POSIX does not extend a file on an empty write: extend explicitly (zero-filled).
      try {
        const st = await s.fh.stat();
        if (st.size < offset) {
          s.syncNeeded = true;
          await s.fh.truncate(offset);
        }
      } catch (err) {
        throw this.#fail(operation, err);
      }
      return;
    }
    try {
      let done = 0;
      while (done < bytes.length) {
        const { bytesWritten } = await s.fh.write(bytes, done, bytes.length - done, offset + done);
        done += bytesWritten;
      }
    } catch (err) {
      await this.resetSize();
      throw this.#fail(operation, err);
    }
  }

  writeDurableSync(offset: number, bytes: Uint8Array): boolean {
    checkByteCount(offset, 'offset', this.name, 'write');
    this.check('write');
    const s = this.shared;
    if (!s.writeThrough || s.syncNeeded || bytes.length === 0) return false;
    const end = offset + bytes.length;
    if (end > s.size) s.size = end;
    try {
      // pwrite(2) on the O_DSYNC descriptor, on this thread: durable when it returns. Through
      // writevSync with one reused array: writeSync allocates ~330 bytes per call (its error
      // context and argument checks), a sequential writer's every commit
      const one = oneBuffer;
      one[0] = bytes;
      let done: number;
      try {
        done = writevSync(s.fh.fd, one, offset);
      } finally {
        one[0] = noBytes;
      }
      while (done < bytes.length) done += writeSync(s.fh.fd, bytes, done, bytes.length - done, offset + done);
    } catch (err) {
      void this.resetSize().catch(() => undefined);
      throw this.#fail('write', err);
    }
    return true;
  }

  syncPending(): boolean {
    const s = this.shared;
    return !s.writeThrough || s.syncNeeded || this.adapter.directorySyncPending(s.createdGen);
  }

  turn(): Promise<void> {
    return new Promise((resolve) => setImmediate(resolve));
  }

  async truncate(length: number): Promise<void> {
    checkByteCount(length, 'length', this.name, 'truncate');
    this.check('truncate');
    this.shared.size = length;
    this.shared.syncNeeded = true;
    try {
      await this.shared.fh.truncate(length);
    } catch (err) {
      await this.resetSize();
      throw this.#fail('truncate', err);
    }
  }

  async sync(): Promise<void> {
    this.check('sync');
    const s = this.shared;
    if (!s.writeThrough || s.syncNeeded) {
      s.syncNeeded = false;
      try {
        await s.fh.datasync();
      } catch (err) {
        s.syncNeeded = true;
        throw this.#fail('sync', err);
      }
    }
    await this.adapter.syncDirectoryFor(this.name, s.createdGen);
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
