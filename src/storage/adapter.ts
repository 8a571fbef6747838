/**
 * The byte-level adapter contract. An adapter stores named files of bytes and knows nothing
 * about formats: the storage engine (src/storage/) owns every byte layout (docs/FORMAT.md).
 *
 * Contract, for every implementation (checked by test/conformance/storage-adapter.case.ts):
 * - Names are flat strings of [A-Za-z0-9._-], at most 255 bytes. No directories.
 * - `read` past the end returns the bytes that exist (possibly 0 of them), never throws for that.
 * - `write` at an offset beyond the end zero-fills the gap.
 * - Bytes written are visible to later reads at once; they are durable only after `sync`
 *   of that file resolves. A crash may drop any unsynced bytes: a suffix of a write (a killed
 *   process, torn writes) or, on a power loss, any of its pages, a later one kept without an
 *   earlier one. Synced bytes are never lost or changed. (The WAL's synced marks make recovery
 *   tell such a loss from damage: docs/FORMAT.md "WAL".)
 * - `replace(name, bytes)` atomically sets the whole content of `name` and makes it durable:
 *   after a crash a reader sees either the old or the new content, never a mix.
 * - `lock()` takes the single-writer lock for the whole location or throws LOCKED.
 * - Every failure is a LargetableError IO_ERROR naming the file and the operation.
 * - All methods are async; an adapter never blocks the caller's thread on I/O, except in the
 *   optional synchronous `writeDurableSync` and `readIntoSync`, which the engine calls sparingly
 *   (and `turn`, which only lets the event loop run).
 * - (Adapters, platform/) A bad name or offset is INVALID_ARGUMENT; a call on a closed adapter or
 *   handle is CLOSED; `truncate` to a larger length extends with zeros; concurrent `append`s
 *   get distinct offsets. Removing or replacing a file that has open handles: filesystem and
 *   memory handles keep the old content, IndexedDB and OPFS handles throw NOT_FOUND; close first.
 */

export interface FileHandle {
  readonly name: string;
  read(offset: number, length: number): Promise<Uint8Array>;
  /**
   * Optional: reads up to `target.length` bytes at `offset` into `target` (the same bytes `read`
   * returns) and resolves with how many were read; fewer only at the end of the file. Lets a
   * caller that reads many blocks once (compaction) reuse one buffer instead of allocating one
   * per read. The engine uses `read` where it is missing.
   */
  readInto?(offset: number, target: Uint8Array): Promise<number>;
  /**
   * Optional, synchronous: `readInto` on the calling thread (Node fs: pread(2)); returns the bytes
   * read, or -1, having read nothing, when this handle cannot serve the range synchronously (then
   * use `readInto`). It blocks the thread for one read: the engine uses it only for the block a
   * point read or a document fetch needs, with a few following ones (up to 256 KiB;
   * docs/ARCHITECTURE.md "Reads and memory"), where a thread-pool round trip costs more than
   * copying the bytes from the OS page cache. Throws IO_ERROR like `read`.
   */
  readIntoSync?(offset: number, target: Uint8Array): number;
  write(offset: number, bytes: Uint8Array): Promise<void>;
  /**
   * Optional, synchronous: on a handle opened `writeThrough` whose writes are durable by
   * themselves (Node fs: O_DSYNC), writes `bytes` at `offset` on the calling thread and returns
   * true once they are durable; returns false, having done nothing, when this handle cannot (not
   * write-through, or a truncate awaits its sync). It blocks the thread for one device write: the
   * engine uses it only for a WAL commit that is alone (docs/ARCHITECTURE.md "Write path"), and
   * still calls `sync` after it. Throws IO_ERROR like `write`.
   */
  writeDurableSync?(offset: number, bytes: Uint8Array): boolean;
  /**
   * Optional, with `writeDurableSync`: false when `sync` has nothing to do now (every write on this
   * handle durable already, no created file's directory entry unsynced). After a durable
   * synchronous write the engine then skips `sync` (an awaited call of a few promises per commit).
   */
  syncPending?(): boolean;
  /**
   * Optional, with `writeDurableSync`: resolves once the event loop has turned (Node: setImmediate),
   * without I/O. After a run of synchronous WAL writes, during which nothing else could run, the
   * engine lets the loop turn once so that other writers can queue (docs/ARCHITECTURE.md "Write path").
   */
  turn?(): Promise<void>;
  /** Append at the current end; returns the offset the bytes were written at. */
  append(bytes: Uint8Array): Promise<number>;
  size(): Promise<number>;
  truncate(length: number): Promise<void>;
  sync(): Promise<void>;
  close(): Promise<void>;
}

export interface StorageAdapter {
  /** Human-readable location, e.g. "./data", "memory://x", "idb://app". */
  readonly location: string;
  /**
   * Opens (creating if `create`) a file. Throws NOT_FOUND if it is missing and !create.
   * `writeThrough` is a hint for a log whose every write is followed by a sync: the adapter may
   * make each write durable before it resolves (Node fs: O_DSYNC, one system call instead of a
   * write and an fdatasync), so `sync` has less left to do. Durability rules are unchanged (bytes
   * are durable once `sync` resolves). Only the first open of a file (while none is open) applies it.
   */
  open(name: string, options?: { create?: boolean; writeThrough?: boolean }): Promise<FileHandle>;
  /** Names of all files, sorted. */
  list(): Promise<string[]>;
  exists(name: string): Promise<boolean>;
  remove(name: string): Promise<void>;
  /** Atomically replace the whole content of `name` (durable when it resolves). */
  replace(name: string, bytes: Uint8Array): Promise<void>;
  /** Reads a whole file written by `replace` (or any file). Throws NOT_FOUND if missing. */
  readAll(name: string): Promise<Uint8Array>;
  /** Takes the single-writer lock for this location; throws LOCKED if another holder exists. */
  lock(): Promise<void>;
  /** Releases the lock and all resources. */
  close(): Promise<void>;
  /**
   * Optional hint: syncing bytes written over already-allocated space of a file is cheaper than
   * syncing bytes that grow it (a filesystem must also commit the new size), so a log is better
   * preallocated with zeros and written in place. Set by the filesystem adapters.
   */
  readonly preallocationHelpsSync?: boolean;
}

/** Durability of acknowledged writes. See docs/ARCHITECTURE.md for the meaning per adapter. */
export type Durability = 'strict' | 'relaxed';
