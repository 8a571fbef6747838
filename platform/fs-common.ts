/**
 * What the Node and Deno filesystem adapters (platform/node/fs-adapter.ts,
 * platform/deno/fs-adapter.ts) share: the errno -> LargetableError mapping, the open-or-create
 * sequence, and FsAdapterBase, the adapter-level bookkeeping (one shared OS file per name with a
 * reference count, the open/last-close race, directory fsync after a create, `replace` via a temp
 * file, the LOCK file and the leftover temp files). Each runtime supplies only its primitives.
 * Runtime-free: this file imports no `node:` module and touches no `Deno` global.
 */
import { ErrorCode, LargetableError } from '../src/errors.ts';
import type { FileHandle } from '../src/storage/adapter.ts';
import { acquireLockFile, lockFileName, releaseLockFile } from './lock-file.ts';
import type { LockFs } from './lock-file.ts';
import { checkByteCount, checkBytes, checkFileName, closedError, ioError, isValidFileName, notFoundError } from './memory.ts';

export const tempSuffix = '.tmp';

/** Maps a runtime error to its errno string (ENOENT, EEXIST, ...), if it has one. */
export type ErrnoOf = (err: unknown) => string | undefined;
/** Maps a runtime error to a LargetableError (a LargetableError passes through unchanged). */
export type WrapError = (location: string, file: string, operation: string, err: unknown) => LargetableError;

/** NOT_FOUND for ENOENT, else IO_ERROR with `errno` in the details when the error has one. */
export function makeWrap(errno: ErrnoOf): WrapError {
  return (location, file, operation, err) => {
    if (err instanceof LargetableError) return err;
    if (errno(err) === 'ENOENT') return notFoundError(location, file, operation, err);
    const e = ioError(location, file, operation, err);
    const code = errno(err);
    if (code === undefined) return e;
    return new LargetableError(ErrorCode.IO_ERROR, e.message, { cause: err, details: { ...e.details, errno: code } });
  };
}

/**
 * Opens an existing file; if missing and `create`, creates it exclusively (calling `created`), and
 * if another creator won that race, opens the existing file. Failures go through `fail`.
 */
export async function openOrCreate<F>(
  openExisting: () => Promise<F>,
  createNew: () => Promise<F>,
  create: boolean,
  errno: ErrnoOf,
  fail: (err: unknown) => LargetableError,
  created: () => void,
): Promise<F> {
  try {
    return await openExisting();
  } catch (err) {
    if (errno(err) !== 'ENOENT' || !create) throw fail(err);
  }
  try {
    const f = await createNew();
    created();
    return f;
  } catch (err2) {
    if (errno(err2) !== 'EEXIST') throw fail(err2);
  }
  try {
    return await openExisting();
  } catch (err3) {
    throw fail(err3);
  }
}

/** The per-name state every handle on one OS file shares. */
export interface SharedFile {
  /** Size including bytes reserved by writes in flight. */
  size: number;
  refs: number;
  /** Set when the last handle closed: an open() that raced with it must reopen. */
  closing?: boolean;
  /** Set once the OS file is closed (only where closing is queued behind I/O). */
  closed?: boolean;
  /**
   * The adapter's count of files created (`noteCreated`) when this one was created; 0 when it was
   * opened, not created. Its name is durable once a directory sync that began after that completed.
   */
  createdGen: number;
}

/** The adapter half of the Node and Deno filesystem adapters; subclasses supply the primitives. */
export abstract class FsAdapterBase<S extends SharedFile> {
  readonly location: string;
  /** fdatasync after a write that grew a file also commits its size: preallocated logs sync faster. */
  readonly preallocationHelpsSync = true;
  readonly directory: string;
  protected readonly wrap: WrapError;
  protected readonly openFiles = new Map<string, Promise<S>>();
  /** Files created so far (`noteCreated`). */
  #dirGen = 0;
  /** Created files whose names a completed directory fsync covers: those up to this count. */
  #dirSynced = 0;
  #closed = false;
  #lockToken: string | undefined;
  #tempCounter = 0;

  constructor(location: string, absoluteDirectory: string, wrap: WrapError) {
    this.location = location;
    this.directory = absoluteDirectory;
    this.wrap = wrap;
  }

  /**
   * Opens the OS file of `name` (creating it when `create`; then its `createdGen` comes from
   * `noteCreated`); `writeThrough`:
   * the contract's hint (each write durable when it resolves), where the runtime supports it.
   */
  protected abstract openShared(name: string, create: boolean, writeThrough: boolean): Promise<S>;
  /** Closes the OS file of a shared entry (idempotent). */
  protected abstract closeShared(shared: S): Promise<void>;
  protected abstract newHandle(name: string, shared: S, pending: Promise<S>): FileHandle;
  protected abstract path(name: string): string;
  /** fsync of the directory (a no-op where directories cannot be synced). */
  protected abstract syncDirectory(): Promise<void>;
  protected abstract readEntries(): Promise<{ name: string; isFile: boolean }[]>;
  protected abstract statIsFile(path: string): Promise<boolean>;
  protected abstract readFileBytes(path: string): Promise<Uint8Array>;
  /** Removes a regular file (fails on a directory). */
  protected abstract removeFile(path: string): Promise<void>;
  protected abstract unlinkPath(path: string): Promise<void>;
  protected abstract renamePath(from: string, to: string): Promise<void>;
  /** Creates/truncates `path`, writes all of `bytes`, syncs the data and closes it. */
  protected abstract writeFileSynced(path: string, bytes: Uint8Array): Promise<void>;
  protected abstract lockFs(): LockFs;
  protected abstract errno(err: unknown): string | undefined;

  protected check(file: string, operation: string): void {
    if (this.#closed) throw closedError(this.location, file, operation);
  }

  get closed(): boolean {
    return this.#closed;
  }

  async open(name: string, options: { create?: boolean; writeThrough?: boolean } = {}): Promise<FileHandle> {
    checkFileName(name, 'open');
    this.check(name, 'open');
    let pending = this.openFiles.get(name);
    if (pending === undefined) {
      pending = this.openShared(name, options.create === true, options.writeThrough === true);
      this.openFiles.set(name, pending);
      pending.catch(() => {
        if (this.openFiles.get(name) === pending) this.openFiles.delete(name);
      });
    }
    const shared = await pending;
    if (this.#closed) throw closedError(this.location, name, 'open');
    if (shared.closing === true) return this.open(name, options); // lost a race with the last close
    shared.refs++;
    return this.newHandle(name, shared, pending);
  }

  /** @internal called by a handle's close. */
  async release(name: string, shared: S, pending: Promise<S>): Promise<void> {
    shared.refs--;
    if (shared.refs > 0) return;
    shared.closing = true;
    if (this.openFiles.get(name) === pending) this.openFiles.delete(name);
    try {
      await this.closeShared(shared);
    } catch (err) {
      throw this.wrap(this.location, name, 'close', err);
    }
  }

  /** A file was created: returns its `createdGen`. */
  protected noteCreated(): number {
    return ++this.#dirGen;
  }

  /**
   * @internal the name of the file created at `createdGen` may not be durable yet (its handle's
   * `sync` has a directory fsync to do). Per file: another file's creation (a segment, a spare WAL)
   * leaves the syncs of files opened before without one.
   */
  directorySyncPending(createdGen: number): boolean {
    return createdGen > this.#dirSynced;
  }

  /** @internal fsyncs the directory unless one that began after the file's creation completed. */
  async syncDirectoryFor(file: string, createdGen: number): Promise<void> {
    if (createdGen <= this.#dirSynced) return;
    const upTo = this.#dirGen;
    try {
      await this.syncDirectory();
    } catch (err) {
      throw this.wrap(this.location, file, 'syncDirectory', err);
    }
    if (upTo > this.#dirSynced) this.#dirSynced = upTo;
  }

  async list(): Promise<string[]> {
    this.check('*', 'list');
    try {
      return (await this.readEntries())
        .filter((e) => e.isFile && isValidFileName(e.name))
        .map((e) => e.name)
        .sort();
    } catch (err) {
      throw this.wrap(this.location, '*', 'list', err);
    }
  }

  async exists(name: string): Promise<boolean> {
    checkFileName(name, 'exists');
    this.check(name, 'exists');
    try {
      return await this.statIsFile(this.path(name));
    } catch (err) {
      if (this.errno(err) === 'ENOENT') return false;
      throw this.wrap(this.location, name, 'exists', err);
    }
  }

  async remove(name: string): Promise<void> {
    checkFileName(name, 'remove');
    this.check(name, 'remove');
    // Handles already open keep the unlinked file; later opens see a new file.
    this.openFiles.delete(name);
    try {
      await this.removeFile(this.path(name));
    } catch (err) {
      throw this.wrap(this.location, name, 'remove', err);
    }
  }

  async replace(name: string, bytes: Uint8Array): Promise<void> {
    checkFileName(name, 'replace');
    checkBytes(bytes, name, 'replace');
    this.check(name, 'replace');
    const tmp = this.path(`${name}~${++this.#tempCounter}${tempSuffix}`);
    try {
      await this.writeFileSynced(tmp, bytes);
      this.openFiles.delete(name); // handles opened before keep the old file
      const upTo = this.#dirGen;
      await this.renamePath(tmp, this.path(name));
      await this.syncDirectory();
      if (upTo > this.#dirSynced) this.#dirSynced = upTo;
    } catch (err) {
      await this.unlinkPath(tmp).catch(() => {});
      throw this.wrap(this.location, name, 'replace', err);
    }
  }

  async readAll(name: string): Promise<Uint8Array> {
    checkFileName(name, 'readAll');
    this.check(name, 'readAll');
    try {
      return await this.readFileBytes(this.path(name));
    } catch (err) {
      throw this.wrap(this.location, name, 'readAll', err);
    }
  }

  async lock(): Promise<void> {
    this.check(lockFileName, 'lock');
    if (this.#lockToken !== undefined) return;
    this.#lockToken = await acquireLockFile(this.lockFs(), this.location, this.directory);
    // Leftover temp files of an interrupted `replace` belong to the previous writer.
    try {
      for (const e of await this.readEntries()) {
        if (e.name.includes('~') && e.name.endsWith(tempSuffix)) await this.unlinkPath(this.path(e.name)).catch(() => {});
      }
    } catch {
      // best effort
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const errors: unknown[] = [];
    for (const [name, pending] of this.openFiles) {
      try {
        const shared = await pending;
        shared.refs = 0;
        await this.closeShared(shared);
      } catch (err) {
        if (!(err instanceof LargetableError)) errors.push(this.wrap(this.location, name, 'close', err));
      }
    }
    this.openFiles.clear();
    if (this.#lockToken !== undefined) {
      const token = this.#lockToken;
      this.#lockToken = undefined;
      try {
        await releaseLockFile(this.lockFs(), this.directory, token);
      } catch (err) {
        errors.push(this.wrap(this.location, lockFileName, 'unlock', err));
      }
    }
    if (errors.length > 0) throw errors[0];
  }
}

/**
 * Opens the data directory: with `create` false it must exist and be a directory, else it is
 * created (recursively). Failures map through `wrap` as operation 'openDirectory'.
 */
export async function openDirectory(
  dir: string,
  create: boolean,
  isDirectory: () => Promise<boolean>,
  mkdirRecursive: () => Promise<void>,
  wrap: WrapError,
): Promise<void> {
  try {
    if (!create) {
      if (!(await isDirectory())) throw new Error('not a directory');
    } else {
      await mkdirRecursive();
    }
  } catch (err) {
    throw wrap(dir, '.', 'openDirectory', err);
  }
}

/**
 * The handle half: argument checks, closed checks, the synchronous size reservation of `write`
 * and `append` (so concurrent appends get distinct offsets), `size` and `close`. Subclasses do
 * the I/O in `writeAt` (which sees empty writes too, and resets the size on failure).
 */
export abstract class FsHandleBase<S extends SharedFile> {
  readonly name: string;
  protected readonly adapter: FsAdapterBase<S>;
  protected readonly shared: S;
  readonly #pending: Promise<S>;
  #closed = false;

  constructor(adapter: FsAdapterBase<S>, name: string, shared: S, pending: Promise<S>) {
    this.adapter = adapter;
    this.name = name;
    this.shared = shared;
    this.#pending = pending;
  }

  /** Writes all of `bytes` at `offset`; an empty write extends the file to `offset` (zero-filled). */
  protected abstract writeAt(offset: number, bytes: Uint8Array, operation: string): Promise<void>;
  /** The OS file's current size. */
  protected abstract statSize(): Promise<number>;

  /** A shared file closed by the adapter, or a closed handle or adapter, is CLOSED. */
  protected check(operation: string): void {
    if (this.#closed || this.adapter.closed || this.shared.closed === true) {
      throw closedError(this.adapter.location, this.name, operation);
    }
  }

  /** After a failed write or truncate: drop the reservation, back to the OS size if readable. */
  protected async resetSize(): Promise<void> {
    try {
      this.shared.size = await this.statSize();
    } catch {
      // keep the reservation; the next failing call reports the error
    }
  }

  async write(offset: number, bytes: Uint8Array): Promise<void> {
    checkByteCount(offset, 'offset', this.name, 'write');
    checkBytes(bytes, this.name, 'write');
    this.check('write');
    const end = offset + bytes.length;
    if (end > this.shared.size) this.shared.size = end; // reserve before awaiting
    await this.writeAt(offset, bytes, 'write');
  }

  async append(bytes: Uint8Array): Promise<number> {
    checkBytes(bytes, this.name, 'append');
    this.check('append');
    const offset = this.shared.size;
    this.shared.size = offset + bytes.length; // reserve before awaiting
    if (bytes.length > 0) await this.writeAt(offset, bytes, 'append');
    return offset;
  }

  async size(): Promise<number> {
    this.check('size');
    return this.shared.size;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.adapter.closed) return;
    await this.adapter.release(this.name, this.shared, this.#pending);
  }
}
