/**
 * MemoryAdapter: the runtime-neutral in-memory StorageAdapter (contract: src/storage/adapter.ts),
 * plus the small helpers every adapter in platform/ shares (name checks, typed errors).
 * This module imports nothing runtime-specific: it runs in Node, Deno, browsers and workerd.
 *
 * Volumes: `memory://NAME` adapters with the same NAME share one in-process volume, so a store
 * closed and reopened under the same name sees its files again (until `dropMemoryVolume`).
 * An adapter created without a name gets a private volume.
 *
 * Crash simulation (tests only): a volume created with `{ trackUnsynced: true }` keeps a second
 * copy of every file's synced bytes. `crashMemoryVolumeForTesting(name)` then drops every
 * unsynced byte (optionally keeping a torn prefix of an unsynced tail, as a killed process may, or
 * any subset of its pages, as a power loss may), invalidates every adapter
 * and handle open on the volume (they throw CLOSED) and frees the lock, like a killed process.
 * Crash model: created, removed and replaced files are durable at once; bytes written by
 * `write`/`append`/`truncate` are durable only after `sync` of that file.
 *
 * Concurrency: all state changes happen synchronously inside each call, so concurrent appends
 * get distinct offsets and every read sees every write that resolved before it started.
 */
import { ErrorCode, LargetableError } from '../src/errors.ts';
import type { FileHandle, StorageAdapter } from '../src/storage/adapter.ts';

// ---------------------------------------------------------------------------------------------
// Shared helpers for all adapters in platform/ (runtime-neutral).
// ---------------------------------------------------------------------------------------------

/** Longest adapter file name, UTF-8 bytes (the contract's bound; names are ASCII). */
export const adapterFileNameBytesMax = 255;
const fileNamePattern = /^[A-Za-z0-9._-]+$/;

/** True when `name` is a valid adapter file name: [A-Za-z0-9._-], 1..255 bytes, not "." or "..". */
export function isValidFileName(name: unknown): name is string {
  return (
    typeof name === 'string' &&
    name.length > 0 &&
    name.length <= adapterFileNameBytesMax &&
    name !== '.' &&
    name !== '..' &&
    fileNamePattern.test(name)
  );
}

/** Throws INVALID_ARGUMENT unless `name` is a valid adapter file name. */
export function checkFileName(name: unknown, operation: string): asserts name is string {
  if (!isValidFileName(name)) {
    throw new LargetableError(
      ErrorCode.INVALID_ARGUMENT,
      `invalid file name ${JSON.stringify(name)} for ${operation}: use 1..${adapterFileNameBytesMax} characters of [A-Za-z0-9._-]`,
      { details: { file: String(name), operation } },
    );
  }
}

/** Throws INVALID_ARGUMENT unless `value` is a safe non-negative integer (an offset or length). */
export function checkByteCount(value: unknown, what: string, file: string, operation: string): asserts value is number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new LargetableError(ErrorCode.INVALID_ARGUMENT, `${what} must be a non-negative safe integer, got ${String(value)} (${operation} ${file})`, {
      details: { file, operation },
    });
  }
}

/** Throws INVALID_ARGUMENT unless `bytes` is a Uint8Array. */
export function checkBytes(bytes: unknown, file: string, operation: string): asserts bytes is Uint8Array {
  if (!(bytes instanceof Uint8Array)) {
    throw new LargetableError(ErrorCode.INVALID_ARGUMENT, `bytes must be a Uint8Array (${operation} ${file})`, { details: { file, operation } });
  }
}

/** An IO_ERROR naming the file and operation, wrapping `cause`. Passes LargetableErrors through. */
export function ioError(location: string, file: string, operation: string, cause?: unknown): LargetableError {
  if (cause instanceof LargetableError) return cause;
  const why = cause instanceof Error ? cause.message : cause === undefined ? 'failed' : String(cause);
  return new LargetableError(ErrorCode.IO_ERROR, `${operation} ${file} in ${location}: ${why}`, {
    cause,
    details: { file, operation, location },
  });
}

/** NOT_FOUND for a missing file. */
export function notFoundError(location: string, file: string, operation: string, cause?: unknown): LargetableError {
  return new LargetableError(ErrorCode.NOT_FOUND, `${operation} ${file} in ${location}: no such file`, {
    cause,
    details: { file, operation, location },
  });
}

/** CLOSED for a call on a closed adapter or handle. */
export function closedError(location: string, file: string, operation: string): LargetableError {
  return new LargetableError(ErrorCode.CLOSED, `${operation} ${file} in ${location}: the adapter or file handle is closed`, {
    details: { file, operation, location },
  });
}

/** LOCKED: another holder has the single-writer lock of `location`. */
export function lockedError(location: string, holder: string): LargetableError {
  return new LargetableError(ErrorCode.LOCKED, `${location} is locked by another writer (${holder})`, {
    details: { file: 'LOCK', operation: 'lock', location, holder },
  });
}

// ---------------------------------------------------------------------------------------------
// Memory volumes.
// ---------------------------------------------------------------------------------------------

interface MemFile {
  /** Current bytes in [0, size); capacity may be larger. */
  data: Uint8Array;
  size: number;
  /** Synced copy (only with trackUnsynced). */
  synced: Uint8Array | undefined;
  syncedSize: number;
  /** Lowest offset changed since the last sync (Infinity when clean). */
  dirtyFrom: number;
  /** End of the highest range changed since the last sync (0 when clean). */
  dirtyTo: number;
}

interface MemVolume {
  readonly files: Map<string, MemFile>;
  readonly trackUnsynced: boolean;
  /** Bumped by a simulated crash: adapters and handles of an older epoch are closed. */
  epoch: number;
  locked: boolean;
}

const volumes = new Map<string, MemVolume>();

function newVolume(trackUnsynced: boolean): MemVolume {
  return { files: new Map(), trackUnsynced, epoch: 0, locked: false };
}

function newFile(track: boolean): MemFile {
  return { data: new Uint8Array(0), size: 0, synced: track ? new Uint8Array(0) : undefined, syncedSize: 0, dirtyFrom: Infinity, dirtyTo: 0 };
}

function ensureCapacity(file: MemFile, needed: number): void {
  if (needed <= file.data.length) return;
  let cap = Math.max(64, file.data.length);
  while (cap < needed) cap *= 2;
  const next = new Uint8Array(cap);
  next.set(file.data.subarray(0, file.size));
  file.data = next;
}

function setSize(file: MemFile, length: number): void {
  if (length > file.size) {
    ensureCapacity(file, length);
    file.data.fill(0, file.size, length);
  }
  file.size = length;
}

function markDirty(file: MemFile, from: number, to: number): void {
  if (from < file.dirtyFrom) file.dirtyFrom = from;
  if (to > file.dirtyTo) file.dirtyTo = to;
}

function syncFile(file: MemFile): void {
  if (file.synced === undefined) return;
  if (file.dirtyFrom === Infinity && file.syncedSize === file.size) return;
  if (file.synced.length < file.size) {
    const next = new Uint8Array(Math.max(file.size, file.synced.length * 2));
    next.set(file.synced.subarray(0, Math.min(file.syncedSize, file.size)));
    file.synced = next;
  }
  const from = Math.min(file.dirtyFrom, file.syncedSize, file.size);
  // every change is in [from, dirtyTo), bytes past the synced size included
  const to = Math.min(file.size, Math.max(file.dirtyTo, from, file.size > file.syncedSize ? file.size : 0));
  file.synced.set(file.data.subarray(from, to), from);
  file.syncedSize = file.size;
  file.dirtyFrom = Infinity;
  file.dirtyTo = 0;
}

export interface MemoryAdapterOptions {
  /**
   * Keep a copy of synced bytes so `crashMemoryVolumeForTesting` can drop unsynced ones.
   * Doubles memory; for tests. Fixed when the volume is first created.
   */
  trackUnsynced?: boolean;
}

/** An in-memory StorageAdapter. `name` selects a shared volume (`memory://name`). */
export class MemoryAdapter implements StorageAdapter {
  readonly location: string;
  readonly #volume: MemVolume;
  readonly #epoch: number;
  #closed = false;
  #holdsLock = false;

  constructor(name?: string, options: MemoryAdapterOptions = {}) {
    if (name === undefined) {
      this.location = 'memory://';
      this.#volume = newVolume(options.trackUnsynced === true);
    } else {
      this.location = `memory://${name}`;
      let volume = volumes.get(name);
      if (volume === undefined) {
        volume = newVolume(options.trackUnsynced === true);
        volumes.set(name, volume);
      }
      this.#volume = volume;
    }
    this.#epoch = this.#volume.epoch;
  }

  #check(file: string, operation: string): void {
    if (this.#closed || this.#volume.epoch !== this.#epoch) throw closedError(this.location, file, operation);
  }

  /** @internal used by handles: throws CLOSED when the adapter is closed or crashed. */
  checkOpen(file: string, operation: string): void {
    this.#check(file, operation);
  }

  async open(name: string, options: { create?: boolean } = {}): Promise<FileHandle> {
    checkFileName(name, 'open');
    this.#check(name, 'open');
    let file = this.#volume.files.get(name);
    if (file === undefined) {
      if (options.create !== true) throw notFoundError(this.location, name, 'open');
      file = newFile(this.#volume.trackUnsynced);
      this.#volume.files.set(name, file);
    }
    return new MemoryFileHandle(this, name, file);
  }

  async list(): Promise<string[]> {
    this.#check('*', 'list');
    return [...this.#volume.files.keys()].sort();
  }

  async exists(name: string): Promise<boolean> {
    checkFileName(name, 'exists');
    this.#check(name, 'exists');
    return this.#volume.files.has(name);
  }

  async remove(name: string): Promise<void> {
    checkFileName(name, 'remove');
    this.#check(name, 'remove');
    if (!this.#volume.files.delete(name)) throw notFoundError(this.location, name, 'remove');
  }

  async replace(name: string, bytes: Uint8Array): Promise<void> {
    checkFileName(name, 'replace');
    checkBytes(bytes, name, 'replace');
    this.#check(name, 'replace');
    const file = newFile(this.#volume.trackUnsynced);
    setSize(file, bytes.length);
    file.data.set(bytes);
    syncFile(file);
    // A new file object: handles opened before keep the old content (like a rename over it).
    this.#volume.files.set(name, file);
  }

  async readAll(name: string): Promise<Uint8Array> {
    checkFileName(name, 'readAll');
    this.#check(name, 'readAll');
    const file = this.#volume.files.get(name);
    if (file === undefined) throw notFoundError(this.location, name, 'readAll');
    return file.data.slice(0, file.size);
  }

  async lock(): Promise<void> {
    this.#check('LOCK', 'lock');
    if (this.#holdsLock) return;
    if (this.#volume.locked) throw lockedError(this.location, 'another MemoryAdapter in this process');
    this.#volume.locked = true;
    this.#holdsLock = true;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#holdsLock && this.#volume.epoch === this.#epoch) this.#volume.locked = false;
    this.#holdsLock = false;
  }

  /** @internal crash support */
  get volumeForTesting(): MemVolume {
    return this.#volume;
  }
}

class MemoryFileHandle implements FileHandle {
  readonly name: string;
  readonly #adapter: MemoryAdapter;
  readonly #file: MemFile;
  #closed = false;

  constructor(adapter: MemoryAdapter, name: string, file: MemFile) {
    this.#adapter = adapter;
    this.name = name;
    this.#file = file;
  }

  #check(operation: string): void {
    if (this.#closed) throw closedError(this.#adapter.location, this.name, operation);
    this.#adapter.checkOpen(this.name, operation);
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    checkByteCount(offset, 'offset', this.name, 'read');
    checkByteCount(length, 'length', this.name, 'read');
    this.#check('read');
    const f = this.#file;
    const end = Math.min(f.size, offset + length);
    if (offset >= end) return new Uint8Array(0);
    return f.data.slice(offset, end);
  }

  async readInto(offset: number, target: Uint8Array): Promise<number> {
    checkByteCount(offset, 'offset', this.name, 'read');
    this.#check('read');
    const f = this.#file;
    const end = Math.min(f.size, offset + target.length);
    if (offset >= end) return 0;
    target.set(f.data.subarray(offset, end));
    return end - offset;
  }

  async write(offset: number, bytes: Uint8Array): Promise<void> {
    checkByteCount(offset, 'offset', this.name, 'write');
    checkBytes(bytes, this.name, 'write');
    this.#check('write');
    this.#writeAt(offset, bytes);
  }

  #writeAt(offset: number, bytes: Uint8Array): void {
    const f = this.#file;
    const end = offset + bytes.length;
    markDirty(f, Math.min(offset, f.size), end);
    if (end > f.size) setSize(f, end);
    f.data.set(bytes, offset);
  }

  async append(bytes: Uint8Array): Promise<number> {
    checkBytes(bytes, this.name, 'append');
    this.#check('append');
    const offset = this.#file.size;
    this.#writeAt(offset, bytes);
    return offset;
  }

  async size(): Promise<number> {
    this.#check('size');
    return this.#file.size;
  }

  async truncate(length: number): Promise<void> {
    checkByteCount(length, 'length', this.name, 'truncate');
    this.#check('truncate');
    const f = this.#file;
    markDirty(f, Math.min(length, f.size), length);
    setSize(f, length);
  }

  async sync(): Promise<void> {
    this.#check('sync');
    syncFile(this.#file);
  }

  async close(): Promise<void> {
    this.#closed = true;
  }
}

/** Opens `memory://name` (or a private volume when `name` is undefined). */
export function openMemoryAdapter(name?: string, options?: MemoryAdapterOptions): MemoryAdapter {
  return new MemoryAdapter(name, options);
}

/** Deletes a named memory volume (its files are gone; open adapters keep the old data). */
export function dropMemoryVolume(name: string): void {
  volumes.delete(name);
}

export interface CrashOptions {
  /**
   * How many bytes of a file's unsynced tail survive, as a torn write would leave them; default 0.
   * The unsynced tail runs from the lowest byte changed since the last sync (or the synced size)
   * to the end of the highest change: appended bytes, or bytes written in place over synced ones
   * (a preallocated file). The kept prefix holds the new bytes, the rest the synced ones. Called
   * once per file with an unsynced tail.
   */
  tornTailBytes?: (file: string, unsyncedTailBytes: number) => number;
  /**
   * Instead of a prefix, keep any subset of the unsynced tail's pages, as a power loss may (a
   * filesystem writes dirty pages back in no set order): called for each page of
   * `crashPageBytes` (aligned on file offsets) the unsynced tail touches, in order; true keeps the
   * page's new bytes, false its synced ones (zeros past the synced size). The file keeps its synced
   * size, or reaches to the end of the last page kept (at most its size before the crash).
   */
  keepUnsyncedPage?: (file: string, pageOffset: number) => boolean;
}

/** The page size of the crash simulation's `keepUnsyncedPage`. */
export const crashPageBytes = 4096;

/**
 * TEST ONLY: simulates a crash of every process using `memory://name`: drops unsynced bytes,
 * closes every adapter and handle open on the volume and frees its lock. The volume must have
 * been created with `{ trackUnsynced: true }`.
 */
export function crashMemoryVolumeForTesting(name: string, options: CrashOptions = {}): void {
  const volume = volumes.get(name);
  if (volume === undefined) throw notFoundError(`memory://${name}`, '*', 'crash');
  crashVolume(volume, options);
}

/** TEST ONLY: same as crashMemoryVolumeForTesting for the volume of `adapter` (named or private). */
export function crashMemoryAdapterForTesting(adapter: MemoryAdapter, options: CrashOptions = {}): void {
  crashVolume(adapter.volumeForTesting, options);
}

function crashVolume(volume: MemVolume, options: CrashOptions): void {
  if (!volume.trackUnsynced) {
    throw new LargetableError(ErrorCode.INVALID_ARGUMENT, 'crash simulation needs a memory volume created with { trackUnsynced: true }');
  }
  volume.epoch++;
  volume.locked = false;
  for (const [name, f] of volume.files) {
    const synced = f.synced ?? new Uint8Array(0);
    const from = Math.min(f.dirtyFrom, f.syncedSize);
    const to = Math.min(f.size, Math.max(f.dirtyTo, from, f.size > f.syncedSize ? f.size : 0));
    if (options.keepUnsyncedPage !== undefined) {
      volume.files.set(name, crashPages(name, f, synced, from, to, options.keepUnsyncedPage));
      continue;
    }
    let keep = 0;
    if (to > from && options.tornTailBytes !== undefined) {
      const tail = to - from;
      keep = Math.max(0, Math.min(tail, Math.floor(options.tornTailBytes(name, tail))));
    }
    const next = newFile(true);
    setSize(next, Math.max(f.syncedSize, from + keep));
    next.data.set(synced.subarray(0, f.syncedSize));
    if (keep > 0) next.data.set(f.data.subarray(from, from + keep), from);
    syncFile(next);
    volume.files.set(name, next);
  }
}

/** A file after a crash that kept the pages of its unsynced tail [from, to) that `keep` picks. */
function crashPages(name: string, f: MemFile, synced: Uint8Array, from: number, to: number, keep: (file: string, pageOffset: number) => boolean): MemFile {
  const kept: number[] = [];
  let size = f.syncedSize;
  for (let pg = from - (from % crashPageBytes); pg < to; pg += crashPageBytes) {
    if (!keep(name, pg)) continue;
    kept.push(pg);
    size = Math.max(size, Math.min(f.size, pg + crashPageBytes));
  }
  const next = newFile(true);
  setSize(next, size);
  next.data.set(synced.subarray(0, Math.min(f.syncedSize, size)));
  for (const pg of kept) {
    const s = Math.max(pg, from);
    const e = Math.min(pg + crashPageBytes, to, size);
    // the page as it is now: its bytes past the file's current size (an unsynced truncate) are gone
    const live = Math.min(e, f.size);
    if (live > s) next.data.set(f.data.subarray(s, live), s);
    if (e > Math.max(s, live)) next.data.fill(0, Math.max(s, live), e);
  }
  syncFile(next);
  return next;
}

// ---------------------------------------------------------------------------------------------
// Storage locations (shared by platform/<runtime>/storage.ts).
// ---------------------------------------------------------------------------------------------

/** A parsed storage location. */
export type StorageLocation =
  | { kind: 'memory'; name: string | undefined }
  | { kind: 'idb'; name: string }
  | { kind: 'opfs'; name: string }
  | { kind: 'path'; path: string };

/**
 * Parses `memory://NAME` (empty NAME = a private volume), `idb://NAME`, `opfs://NAME`,
 * `file:///abs/path` and plain paths (`./data`, `/x`, `C:\x`). Any other `scheme://` is
 * UNSUPPORTED_STORAGE; an empty or non-string location is INVALID_ARGUMENT.
 */
export function parseStorageLocation(location: unknown): StorageLocation {
  if (typeof location !== 'string' || location.length === 0) {
    throw new LargetableError(ErrorCode.INVALID_ARGUMENT, `a storage location must be a non-empty string, got ${JSON.stringify(location)}`);
  }
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/(.*)$/s.exec(location);
  if (m === null) return { kind: 'path', path: location };
  const scheme = m[1]!.toLowerCase();
  const rest = m[2]!;
  const needName = (kind: string): string => {
    if (rest.length === 0 || rest.includes('/')) {
      throw new LargetableError(ErrorCode.INVALID_ARGUMENT, `${kind}:// needs a name without '/', got ${JSON.stringify(location)}`, { details: { location } });
    }
    return rest;
  };
  switch (scheme) {
    case 'memory':
      return { kind: 'memory', name: rest.length === 0 ? undefined : needName('memory') };
    case 'idb':
      return { kind: 'idb', name: needName('idb') };
    case 'opfs':
      return { kind: 'opfs', name: needName('opfs') };
    case 'file': {
      let url: URL;
      try {
        url = new URL(location);
      } catch (cause) {
        throw new LargetableError(ErrorCode.INVALID_ARGUMENT, `bad file URL ${JSON.stringify(location)}`, { cause, details: { location } });
      }
      if (url.host !== '' && url.host !== 'localhost') {
        throw new LargetableError(ErrorCode.UNSUPPORTED_STORAGE, `file URLs on another host are not supported: ${location}`, { details: { location } });
      }
      let p = decodeURIComponent(url.pathname);
      if (/^\/[A-Za-z]:\//.test(p)) p = p.slice(1); // file:///C:/x on Windows
      return { kind: 'path', path: p };
    }
    default:
      throw new LargetableError(ErrorCode.UNSUPPORTED_STORAGE, `unknown storage scheme ${scheme}:// in ${JSON.stringify(location)}`, { details: { location } });
  }
}

/** UNSUPPORTED_STORAGE for a backend this runtime lacks (never a silent fallback). */
export function unsupportedStorage(location: string, runtime: string, supported: string): LargetableError {
  return new LargetableError(ErrorCode.UNSUPPORTED_STORAGE, `${location}: ${runtime} has no such storage backend (supported here: ${supported})`, {
    details: { location, runtime },
  });
}

/** Options every `openAdapter(location, options)` accepts. */
export interface OpenAdapterOptions {
  /** IndexedDB transaction durability (default 'strict'); other backends sync explicitly. */
  durability?: 'strict' | 'relaxed';
}
