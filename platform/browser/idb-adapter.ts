/**
 * IdbAdapter: the StorageAdapter (src/storage/adapter.ts) on IndexedDB, through idb-keyval's
 * custom-store hook (`createStore`). Works in browsers, in workers, and under Node/Deno with
 * fake-indexeddb.
 *
 * Layout: one database `largetable:NAME` with one object store `files`, keys are arrays:
 *   ['format']            -> { version: 1, chunkSizeBytes: 65536 }
 *   ['m', file]           -> { size }            (the file exists iff this record exists)
 *   ['c', file, index]    -> Uint8Array          (bytes [index*64Ki, ...); a missing chunk or
 *                                                  the bytes past a short chunk are zeros)
 * Files are sparse fixed-size chunks, so a write touches only the chunks it covers.
 *
 * Buffering: writes go to in-memory dirty chunks (visible at once to every handle of this
 * adapter); `sync` writes the dirty chunks, the deletions of truncated chunks and the size record
 * in ONE readwrite transaction, with `durability: 'strict'` unless the adapter was opened with
 * `durability: 'relaxed'`. So a synced state is atomic and a crash drops exactly the unsynced
 * suffix. Unsynced bytes live in memory until sync or close (close syncs).
 * `replace` and `remove` are one transaction each (atomic). Each file has an operation queue:
 * its operations run one at a time, in call order.
 *
 * Lock: the Web Locks API (`navigator.locks`, exclusive across tabs and workers of the origin)
 * when present, else a process-wide registry (Node/Deno with fake-indexeddb).
 * Using a handle whose file was removed or replaced while open throws NOT_FOUND.
 */
import { createStore, promisifyRequest } from 'idb-keyval';
import type { UseStore } from 'idb-keyval';
import { ErrorCode, LargetableError } from '../../src/errors.ts';
import type { Durability, FileHandle, StorageAdapter } from '../../src/storage/adapter.ts';
import { checkByteCount, checkBytes, checkFileName, closedError, ioError, lockedError, notFoundError } from '../memory.ts';

/** Size of one stored chunk. Fixed per database (recorded in the ['format'] record). */
export const idbChunkSizeBytes = 64 * 1024;
/** Clean chunks cached per open file (512 KiB): the engine has its own block cache above. */
const cleanChunksMax = 8;
const formatVersion = 1;
const storeName = 'files';

export interface IdbAdapterOptions {
  /** 'strict' (default): sync/replace/remove commit with durability 'strict'; 'relaxed': the browser default. */
  durability?: Durability;
}

interface FileState {
  readonly name: string;
  /** Current size (including unsynced writes). */
  size: number;
  /** Size recorded in IndexedDB. */
  durableSize: number;
  /** Lowest size since the last sync: stored bytes at or past it are stale (read as zeros). */
  lowWater: number;
  readonly dirty: Map<number, Uint8Array>;
  readonly clean: Map<number, Uint8Array>;
  refs: number;
  queue: Promise<unknown>;
  /** Removed or replaced while open. */
  orphan: boolean;
}

function enqueue<T>(s: FileState, op: () => Promise<T>): Promise<T> {
  const run = s.queue.then(op, op);
  s.queue = run.catch(() => {});
  return run;
}

const metaKey = (name: string): IDBValidKey => ['m', name];
const chunkKey = (name: string, index: number): IDBValidKey => ['c', name, index];
const chunkRange = (name: string, from = 0): IDBKeyRange => IDBKeyRange.bound(['c', name, from], ['c', name, Infinity]);

/** Holders of idb:// locks in this JS realm (when there is no Web Locks API). */
const localLocks = new Set<string>();

interface LockManagerLike {
  request(name: string, options: { ifAvailable: boolean; mode?: 'exclusive' }, cb: (lock: unknown) => Promise<void> | void): Promise<unknown>;
}

function webLocks(): LockManagerLike | undefined {
  const nav = (globalThis as { navigator?: { locks?: LockManagerLike } }).navigator;
  return nav?.locks;
}

/**
 * Takes an exclusive lock named `key` with Web Locks if available (else in this realm).
 * Returns the release function (it resolves once the lock is free again), or undefined when
 * another holder has it.
 */
/** tryWebLock, or LOCKED (held by another tab, worker or adapter of this origin). */
export async function takeWebLock(key: string, location: string): Promise<() => Promise<void>> {
  const release = await tryWebLock(key);
  if (release === undefined) throw lockedError(location, 'another tab, worker or adapter of this origin');
  return release;
}

export async function tryWebLock(key: string): Promise<(() => Promise<void>) | undefined> {
  if (localLocks.has(key)) return undefined;
  const locks = webLocks();
  if (locks === undefined) {
    localLocks.add(key);
    return async () => {
      localLocks.delete(key);
    };
  }
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  let request!: Promise<unknown>;
  const acquired = await new Promise<boolean>((resolve, reject) => {
    request = locks.request(key, { ifAvailable: true, mode: 'exclusive' }, async (lock) => {
      if (lock === null) {
        resolve(false);
        return;
      }
      resolve(true);
      await held;
    });
    request.catch(reject);
  });
  if (!acquired) return undefined;
  localLocks.add(key);
  return async () => {
    release();
    await request.catch(() => {});
    localLocks.delete(key);
  };
}

/** Opens `idb://name`: the IndexedDB database `largetable:name`. */
export async function openIdbAdapter(name: string, options: IdbAdapterOptions = {}): Promise<IdbAdapter> {
  const location = `idb://${name}`;
  if (typeof indexedDB === 'undefined') {
    throw new LargetableError(ErrorCode.UNSUPPORTED_STORAGE, `${location}: this runtime has no IndexedDB`, { details: { location } });
  }
  if (typeof name !== 'string' || name.length === 0) {
    throw new LargetableError(ErrorCode.INVALID_ARGUMENT, `idb:// needs a database name, got ${JSON.stringify(name)}`);
  }
  let db: IDBDatabase;
  try {
    const useStore: UseStore = createStore(`largetable:${name}`, storeName);
    db = await useStore('readonly', (store) => store.transaction.db);
  } catch (err) {
    throw ioError(location, '.', 'openDatabase', err);
  }
  const adapter = new IdbAdapter(location, name, db, options.durability ?? 'strict');
  try {
    await adapter.checkFormat();
  } catch (err) {
    await adapter.close().catch(() => {});
    throw err;
  }
  return adapter;
}

/** Deletes the IndexedDB database behind `idb://name` (close its adapters first). */
export async function deleteIdbDatabase(name: string): Promise<void> {
  try {
    const req = indexedDB.deleteDatabase(`largetable:${name}`);
    await new Promise<void>((resolve, reject) => {
      req.onsuccess = () => resolve();
      req.onerror = () => reject(req.error);
      // Open adapters close on 'versionchange'; a connection that does not is reported.
      req.onblocked = () => setTimeout(() => reject(new Error('blocked: a connection to the database is still open')), 2000);
    });
  } catch (err) {
    throw ioError(`idb://${name}`, '.', 'deleteDatabase', err);
  }
}

export class IdbAdapter implements StorageAdapter {
  readonly location: string;
  readonly durability: Durability;
  readonly #lockKey: string;
  readonly #db: IDBDatabase;
  readonly #files = new Map<string, FileState>();
  readonly #opening = new Map<string, Promise<FileState>>();
  #closed = false;
  #release: (() => Promise<void>) | undefined;

  /** Use `openIdbAdapter`. */
  constructor(location: string, name: string, db: IDBDatabase, durability: Durability) {
    this.location = location;
    this.#lockKey = `largetable:idb:${name}`;
    this.#db = db;
    this.durability = durability;
    // Another connection wants to delete or upgrade the database: let it (later calls fail with IO_ERROR).
    db.onversionchange = () => db.close();
  }

  get closed(): boolean {
    return this.#closed;
  }

  #check(file: string, operation: string): void {
    if (this.#closed) throw closedError(this.location, file, operation);
  }

  /** Runs `body` in one transaction and resolves when it completes. */
  async tx<T>(mode: IDBTransactionMode, file: string, operation: string, body: (store: IDBObjectStore) => () => T): Promise<T> {
    try {
      const t = this.#db.transaction(storeName, mode, mode === 'readwrite' ? { durability: this.durability } : undefined);
      const result = body(t.objectStore(storeName));
      await promisifyRequest(t);
      return result();
    } catch (err) {
      throw ioError(this.location, file, operation, err);
    }
  }

  /** @internal checks (or writes) the ['format'] record. */
  async checkFormat(): Promise<void> {
    const current = await this.tx('readwrite', '.', 'openDatabase', (store) => {
      let value: unknown;
      const req = store.get(['format']);
      req.onsuccess = () => {
        value = req.result;
        if (value === undefined) store.put({ version: formatVersion, chunkSizeBytes: idbChunkSizeBytes }, ['format']);
      };
      return () => value;
    });
    if (current === undefined) return;
    const f = current as { version?: unknown; chunkSizeBytes?: unknown };
    if (f.version !== formatVersion || f.chunkSizeBytes !== idbChunkSizeBytes) {
      throw new LargetableError(ErrorCode.UNSUPPORTED_FORMAT, `${this.location}: IndexedDB layout version ${String(f.version)} (chunk ${String(f.chunkSizeBytes)}) is not readable by this build`, {
        details: { file: 'format', operation: 'openDatabase', location: this.location },
      });
    }
  }

  async open(name: string, options: { create?: boolean } = {}): Promise<FileHandle> {
    checkFileName(name, 'open');
    this.#check(name, 'open');
    let state = this.#files.get(name);
    if (state === undefined) {
      let pending = this.#opening.get(name);
      if (pending === undefined) {
        pending = this.#load(name, options.create === true);
        this.#opening.set(name, pending);
      }
      try {
        state = await pending;
      } finally {
        if (this.#opening.get(name) === pending) this.#opening.delete(name);
      }
      this.#check(name, 'open');
      const again = this.#files.get(name);
      if (again !== undefined) state = again;
      else this.#files.set(name, state);
    }
    state.refs++;
    return new IdbFileHandle(this, state);
  }

  async #load(name: string, create: boolean): Promise<FileState> {
    const size = await this.tx(create ? 'readwrite' : 'readonly', name, 'open', (store) => {
      let size: number | undefined;
      const req = store.get(metaKey(name));
      req.onsuccess = () => {
        const meta = req.result as { size?: unknown } | undefined;
        if (meta !== undefined && typeof meta.size === 'number') size = meta.size;
        else if (create) {
          size = 0;
          store.put({ size: 0 }, metaKey(name));
        }
      };
      return () => size;
    });
    if (size === undefined) throw notFoundError(this.location, name, 'open');
    return { name, size, durableSize: size, lowWater: size, dirty: new Map(), clean: new Map(), refs: 0, queue: Promise.resolve(), orphan: false };
  }

  /** Loads the stored content of chunks `indices` (masked by lowWater), caching them clean. */
  async fetchChunks(s: FileState, indices: number[], operation: string): Promise<Map<number, Uint8Array>> {
    const out = new Map<number, Uint8Array>();
    const missing: number[] = [];
    for (const i of indices) {
      const d = s.dirty.get(i) ?? s.clean.get(i);
      if (d !== undefined) out.set(i, d);
      else if (i * idbChunkSizeBytes >= s.lowWater) out.set(i, new Uint8Array(0)); // stored bytes there are stale
      else missing.push(i);
    }
    if (missing.length === 0) return out;
    const got = await this.tx('readonly', s.name, operation, (store) => {
      const res = new Map<number, Uint8Array>();
      for (const i of missing) {
        const req = store.get(chunkKey(s.name, i));
        req.onsuccess = () => {
          const v = req.result as Uint8Array | undefined;
          res.set(i, v instanceof Uint8Array ? v : new Uint8Array(0));
        };
      }
      return () => res;
    });
    for (const [i, raw] of got) {
      const keep = Math.max(0, Math.min(raw.length, s.lowWater - i * idbChunkSizeBytes));
      const masked = keep === raw.length ? raw : raw.slice(0, keep);
      out.set(i, masked);
      s.clean.set(i, masked);
      if (s.clean.size > cleanChunksMax) {
        const oldest = s.clean.keys().next().value;
        if (oldest !== undefined) s.clean.delete(oldest);
      }
    }
    return out;
  }

  /** @internal writes dirty chunks, truncation and size of `s` in one transaction. */
  async syncState(s: FileState): Promise<void> {
    if (s.orphan) return;
    const cs = idbChunkSizeBytes;
    if (s.dirty.size === 0 && s.lowWater === s.durableSize && s.size === s.durableSize) return;
    const truncated = s.lowWater < s.durableSize;
    if (truncated && s.lowWater % cs !== 0) {
      // The chunk holding the low-water mark keeps stale bytes past it: rewrite it zeroed.
      const b = Math.floor(s.lowWater / cs);
      if (!s.dirty.has(b) && b * cs < s.size) {
        const base = (await this.fetchChunks(s, [b], 'sync')).get(b) ?? new Uint8Array(0);
        const buf = new Uint8Array(cs);
        buf.set(base);
        s.dirty.set(b, buf);
        s.clean.delete(b);
      }
    }
    const size = s.size;
    const entries = [...s.dirty];
    await this.tx('readwrite', s.name, 'sync', (store) => {
      if (truncated) store.delete(chunkRange(s.name, Math.ceil(s.lowWater / cs)));
      for (const [i, buf] of entries) {
        const len = Math.min(cs, size - i * cs);
        if (len > 0) store.put(buf.slice(0, len), chunkKey(s.name, i));
      }
      store.put({ size }, metaKey(s.name));
      return () => undefined;
    });
    s.durableSize = size;
    s.lowWater = size;
    for (const [i, buf] of entries) {
      s.dirty.delete(i);
      s.clean.set(i, buf.slice(0, Math.max(0, Math.min(cs, size - i * cs))));
    }
    while (s.clean.size > cleanChunksMax) {
      const oldest = s.clean.keys().next().value;
      if (oldest === undefined) break;
      s.clean.delete(oldest);
    }
  }

  /** @internal called by a handle's close: syncs and forgets the state when unused. */
  async release(s: FileState): Promise<void> {
    s.refs--;
    if (s.refs > 0) return;
    await enqueue(s, async () => {
      if (s.refs > 0) return;
      await this.syncState(s);
      // Reopened meanwhile? Then the state stays shared.
      if (s.refs === 0 && this.#files.get(s.name) === s) this.#files.delete(s.name);
    });
  }

  #orphan(name: string): void {
    const s = this.#files.get(name);
    if (s === undefined) return;
    s.orphan = true;
    this.#files.delete(name);
  }

  async list(): Promise<string[]> {
    this.#check('*', 'list');
    const keys = await this.tx('readonly', '*', 'list', (store) => {
      let keys: IDBValidKey[] = [];
      const req = store.getAllKeys(IDBKeyRange.bound(['m', ''], ['m', '\uffff']));
      req.onsuccess = () => (keys = req.result);
      return () => keys;
    });
    const names = new Set<string>();
    for (const k of keys) if (Array.isArray(k) && typeof k[1] === 'string') names.add(k[1]);
    for (const name of this.#files.keys()) names.add(name);
    return [...names].sort();
  }

  async exists(name: string): Promise<boolean> {
    checkFileName(name, 'exists');
    this.#check(name, 'exists');
    if (this.#files.has(name)) return true;
    return this.tx('readonly', name, 'exists', (store) => {
      let found = false;
      const req = store.getKey(metaKey(name));
      req.onsuccess = () => (found = req.result !== undefined);
      return () => found;
    });
  }

  async remove(name: string): Promise<void> {
    checkFileName(name, 'remove');
    this.#check(name, 'remove');
    const existed = await this.tx('readwrite', name, 'remove', (store) => {
      let existed = false;
      const req = store.getKey(metaKey(name));
      req.onsuccess = () => {
        existed = req.result !== undefined;
        if (existed) {
          store.delete(metaKey(name));
          store.delete(chunkRange(name));
        }
      };
      return () => existed;
    });
    if (!existed && !this.#files.has(name)) throw notFoundError(this.location, name, 'remove');
    this.#orphan(name);
  }

  async replace(name: string, bytes: Uint8Array): Promise<void> {
    checkFileName(name, 'replace');
    checkBytes(bytes, name, 'replace');
    this.#check(name, 'replace');
    const copy = bytes.slice();
    this.#orphan(name);
    await this.tx('readwrite', name, 'replace', (store) => {
      store.delete(chunkRange(name));
      for (let i = 0; i * idbChunkSizeBytes < copy.length; i++) {
        store.put(copy.slice(i * idbChunkSizeBytes, (i + 1) * idbChunkSizeBytes), chunkKey(name, i));
      }
      store.put({ size: copy.length }, metaKey(name));
      return () => undefined;
    });
  }

  async readAll(name: string): Promise<Uint8Array> {
    checkFileName(name, 'readAll');
    this.#check(name, 'readAll');
    const open = this.#files.get(name);
    if (open !== undefined) {
      return enqueue(open, async () => readState(this, open, 0, open.size, 'readAll'));
    }
    const result = await this.tx('readonly', name, 'readAll', (store) => {
      let size: number | undefined;
      let keys: IDBValidKey[] = [];
      let values: unknown[] = [];
      const m = store.get(metaKey(name));
      m.onsuccess = () => {
        const meta = m.result as { size?: unknown } | undefined;
        if (meta !== undefined && typeof meta.size === 'number') size = meta.size;
      };
      const k = store.getAllKeys(chunkRange(name));
      k.onsuccess = () => (keys = k.result);
      const v = store.getAll(chunkRange(name));
      v.onsuccess = () => (values = v.result);
      return () => ({ size, keys, values });
    });
    if (result.size === undefined) throw notFoundError(this.location, name, 'readAll');
    const out = new Uint8Array(result.size);
    result.keys.forEach((key, j) => {
      const i = Array.isArray(key) ? Number(key[2]) : NaN;
      const v = result.values[j];
      if (!Number.isInteger(i) || !(v instanceof Uint8Array)) return;
      const at = i * idbChunkSizeBytes;
      if (at < out.length) out.set(v.subarray(0, Math.min(v.length, out.length - at)), at);
    });
    return out;
  }

  async lock(): Promise<void> {
    this.#check('LOCK', 'lock');
    if (this.#release !== undefined) return;
    this.#release = await takeWebLock(this.#lockKey, this.location);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    const errors: unknown[] = [];
    for (const s of this.#files.values()) {
      try {
        await enqueue(s, () => this.syncState(s));
      } catch (err) {
        errors.push(err);
      }
    }
    this.#closed = true;
    this.#files.clear();
    this.#db.close();
    const release = this.#release;
    this.#release = undefined;
    await release?.();
    if (errors.length > 0) throw errors[0];
  }
}

/** Reads [offset, offset+length) of `s` (caller holds the file's queue). */
async function readState(adapter: IdbAdapter, s: FileState, offset: number, length: number, operation: string): Promise<Uint8Array> {
  const cs = idbChunkSizeBytes;
  const n = Math.max(0, Math.min(length, s.size - offset));
  const out = new Uint8Array(n);
  if (n === 0) return out;
  const first = Math.floor(offset / cs);
  const last = Math.floor((offset + n - 1) / cs);
  const indices: number[] = [];
  for (let i = first; i <= last; i++) indices.push(i);
  const chunks = await adapter.fetchChunks(s, indices, operation);
  for (const i of indices) {
    const c = chunks.get(i);
    if (c === undefined) continue;
    const from = Math.max(offset, i * cs);
    const to = Math.min(offset + n, i * cs + cs, i * cs + c.length);
    if (to > from) out.set(c.subarray(from - i * cs, to - i * cs), from - offset);
  }
  return out;
}

class IdbFileHandle implements FileHandle {
  readonly name: string;
  readonly #adapter: IdbAdapter;
  readonly #s: FileState;
  #closed = false;

  constructor(adapter: IdbAdapter, state: FileState) {
    this.#adapter = adapter;
    this.#s = state;
    this.name = state.name;
  }

  #check(operation: string): void {
    if (this.#closed || this.#adapter.closed) throw closedError(this.#adapter.location, this.name, operation);
    if (this.#s.orphan) throw notFoundError(this.#adapter.location, this.name, operation);
  }

  #run<T>(operation: string, op: () => Promise<T>): Promise<T> {
    this.#check(operation);
    return enqueue(this.#s, async () => {
      this.#check(operation);
      return op();
    });
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    checkByteCount(offset, 'offset', this.name, 'read');
    checkByteCount(length, 'length', this.name, 'read');
    return this.#run('read', () => readState(this.#adapter, this.#s, offset, length, 'read'));
  }

  async #writeAt(offset: number, bytes: Uint8Array, operation: string): Promise<void> {
    const s = this.#s;
    const cs = idbChunkSizeBytes;
    const end = offset + bytes.length;
    if (bytes.length > 0) {
      const first = Math.floor(offset / cs);
      const last = Math.floor((end - 1) / cs);
      // Chunks only partly covered, not dirty, and holding stored bytes need their old content.
      const need: number[] = [];
      for (const i of [first, last]) {
        const partial = offset > i * cs || end < Math.min((i + 1) * cs, Math.max(s.size, end));
        if (partial && !s.dirty.has(i) && i * cs < s.lowWater && !need.includes(i)) need.push(i);
      }
      const bases = need.length > 0 ? await this.#adapter.fetchChunks(s, need, operation) : new Map<number, Uint8Array>();
      for (let i = first; i <= last; i++) {
        let buf = s.dirty.get(i);
        if (buf === undefined) {
          buf = new Uint8Array(cs);
          const base = bases.get(i) ?? s.clean.get(i);
          if (base !== undefined) buf.set(base);
          s.dirty.set(i, buf);
          s.clean.delete(i);
        }
        const from = Math.max(offset, i * cs);
        const to = Math.min(end, (i + 1) * cs);
        buf.set(bytes.subarray(from - offset, to - offset), from - i * cs);
      }
    }
    if (end > s.size) s.size = end;
  }

  async write(offset: number, bytes: Uint8Array): Promise<void> {
    checkByteCount(offset, 'offset', this.name, 'write');
    checkBytes(bytes, this.name, 'write');
    const copy = bytes.slice();
    return this.#run('write', () => this.#writeAt(offset, copy, 'write'));
  }

  async append(bytes: Uint8Array): Promise<number> {
    checkBytes(bytes, this.name, 'append');
    const copy = bytes.slice();
    return this.#run('append', async () => {
      const offset = this.#s.size;
      await this.#writeAt(offset, copy, 'append');
      return offset;
    });
  }

  async size(): Promise<number> {
    return this.#run('size', async () => this.#s.size);
  }

  async truncate(length: number): Promise<void> {
    checkByteCount(length, 'length', this.name, 'truncate');
    return this.#run('truncate', async () => {
      const s = this.#s;
      const cs = idbChunkSizeBytes;
      if (length < s.size) {
        for (const i of [...s.dirty.keys()]) {
          if (i * cs >= length) s.dirty.delete(i);
          else if ((i + 1) * cs > length) s.dirty.get(i)!.fill(0, length - i * cs);
        }
        for (const i of [...s.clean.keys()]) {
          if ((i + 1) * cs > length) s.clean.delete(i);
        }
        if (length < s.lowWater) s.lowWater = length;
      }
      s.size = length;
    });
  }

  async sync(): Promise<void> {
    return this.#run('sync', () => this.#adapter.syncState(this.#s));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#adapter.closed) return;
    await this.#adapter.release(this.#s);
  }
}
