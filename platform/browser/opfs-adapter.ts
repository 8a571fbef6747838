/**
 * OPFS adapter: the StorageAdapter (src/storage/adapter.ts) on the Origin Private File System
 * with FileSystemSyncAccessHandle, which browsers only allow in dedicated Workers.
 *
 * - `OpfsCore` runs where sync access handles exist (a dedicated Worker). It owns one
 *   SyncAccessHandle per open file and executes requests one at a time, in arrival order.
 *   `sync` calls `flush()` before it answers, so an acknowledged sync is durable.
 * - `OpfsAdapter` is the async StorageAdapter. On a page it posts requests to a module Worker
 *   (platform/browser/opfs.worker.ts, bundled as `opfs.worker.js` next to this module, or the URL
 *   given as `workerUrl`); inside a Worker (`mode: 'direct'`, the default there) it calls an
 *   OpfsCore in the same thread, without messages.
 * - Layout: OPFS root / `largetable` / NAME / one OPFS file per adapter file.
 * - `replace` writes and flushes `NAME~N.tmp`, then moves it over NAME (FileSystemHandle.move,
 *   a rename). Open handles on the replaced or removed file are closed first (OPFS refuses to
 *   move over or delete a file with an open access handle); using them afterwards is NOT_FOUND.
 * - Lock: Web Locks (`navigator.locks`), exclusive across tabs and workers of the origin.
 * - Errors cross the worker boundary as {code, message, details} and are rebuilt as
 *   LargetableError: IO_ERROR { file, operation }, NOT_FOUND, CLOSED, INVALID_ARGUMENT.
 */
import { ErrorCode, LargetableError } from '../../src/errors.ts';
import type { FileHandle, StorageAdapter } from '../../src/storage/adapter.ts';
import { checkByteCount, checkBytes, checkFileName, closedError, ioError, isValidFileName, notFoundError } from '../memory.ts';
import { takeWebLock } from './idb-adapter.ts';

// ---------------------------------------------------------------------------------------------
// Minimal OPFS types (the main tsconfig has the DOM lib, not the WebWorker one).
// ---------------------------------------------------------------------------------------------
interface SyncAccessHandle {
  read(buffer: Uint8Array, options?: { at?: number }): number;
  write(buffer: Uint8Array, options?: { at?: number }): number;
  truncate(size: number): void;
  getSize(): number;
  flush(): void;
  close(): void;
}
interface OpfsFileHandle {
  readonly kind: 'file';
  createSyncAccessHandle(): Promise<SyncAccessHandle>;
  move(dir: OpfsDirHandle, name: string): Promise<void>;
}
interface OpfsDirHandle {
  readonly kind: 'directory';
  getDirectoryHandle(name: string, options?: { create?: boolean }): Promise<OpfsDirHandle>;
  getFileHandle(name: string, options?: { create?: boolean }): Promise<OpfsFileHandle>;
  removeEntry(name: string, options?: { recursive?: boolean }): Promise<void>;
  entries(): AsyncIterable<[string, { kind: 'file' | 'directory' }]>;
}

const rootDirName = 'largetable';
const tempSuffix = '.tmp';

async function opfsRoot(): Promise<OpfsDirHandle> {
  const storage = (globalThis as { navigator?: { storage?: { getDirectory?: () => Promise<unknown> } } }).navigator?.storage;
  if (storage?.getDirectory === undefined) {
    throw new LargetableError(ErrorCode.UNSUPPORTED_STORAGE, 'opfs://: this runtime has no Origin Private File System');
  }
  return (await storage.getDirectory()) as OpfsDirHandle;
}

function domName(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'name' in err ? String((err as { name: unknown }).name) : undefined;
}

// ---------------------------------------------------------------------------------------------
// Requests (the worker protocol).
// ---------------------------------------------------------------------------------------------

export type OpfsRequest =
  | { op: 'init'; name: string }
  | { op: 'open'; name: string; create: boolean }
  | { op: 'read'; id: number; offset: number; length: number }
  | { op: 'write'; id: number; offset: number; bytes: Uint8Array }
  | { op: 'append'; id: number; bytes: Uint8Array }
  | { op: 'size'; id: number }
  | { op: 'truncate'; id: number; length: number }
  | { op: 'sync'; id: number }
  | { op: 'closeHandle'; id: number }
  | { op: 'list' }
  | { op: 'exists'; name: string }
  | { op: 'remove'; name: string }
  | { op: 'replace'; name: string; bytes: Uint8Array }
  | { op: 'readAll'; name: string }
  | { op: 'cleanTemps' }
  | { op: 'close' };

export interface WireError {
  code: string;
  message: string;
  details: Record<string, unknown>;
}

export type OpfsReply = { seq: number; ok: true; result: unknown } | { seq: number; ok: false; error: WireError };

function toWire(err: unknown): WireError {
  if (err instanceof LargetableError) return { code: err.code, message: err.message, details: { ...err.details } };
  return { code: ErrorCode.IO_ERROR, message: err instanceof Error ? err.message : String(err), details: {} };
}

function fromWire(e: WireError): LargetableError {
  const code = (Object.values(ErrorCode) as string[]).includes(e.code) ? (e.code as ErrorCode) : ErrorCode.IO_ERROR;
  return new LargetableError(code, e.message, { details: e.details });
}

interface SharedFile {
  readonly name: string;
  readonly ah: SyncAccessHandle;
  refs: number;
  orphan: boolean;
}

/**
 * Executes OPFS requests with SyncAccessHandles. Runs only where `createSyncAccessHandle`
 * exists (a dedicated Worker). Requests are serialized: each one starts after the previous ended.
 */
export class OpfsCore {
  #location = 'opfs://';
  #dir: OpfsDirHandle | undefined;
  readonly #files = new Map<string, SharedFile>();
  readonly #handles = new Map<number, SharedFile>();
  #nextId = 1;
  #tempCounter = 0;
  #queue: Promise<unknown> = Promise.resolve();

  /** Runs one request after every earlier one. */
  handle(req: OpfsRequest): Promise<unknown> {
    const run = this.#queue.then(
      () => this.#exec(req),
      () => this.#exec(req),
    );
    this.#queue = run.catch(() => {});
    return run;
  }

  #dirOrThrow(file: string, operation: string): OpfsDirHandle {
    if (this.#dir === undefined) throw closedError(this.#location, file, operation);
    return this.#dir;
  }

  #wrap(file: string, operation: string, err: unknown): LargetableError {
    if (err instanceof LargetableError) return err;
    if (domName(err) === 'NotFoundError') return notFoundError(this.#location, file, operation, err);
    const e = ioError(this.#location, file, operation, err);
    const name = domName(err);
    return name === undefined ? e : new LargetableError(ErrorCode.IO_ERROR, e.message, { cause: err, details: { ...e.details, domError: name } });
  }

  #shared(id: number, operation: string): SharedFile {
    const s = this.#handles.get(id);
    if (s === undefined) throw closedError(this.#location, `#${id}`, operation);
    if (s.orphan) throw notFoundError(this.#location, s.name, operation);
    return s;
  }

  /** Closes the access handle of `name` (before a remove or replace); its handles turn NOT_FOUND. */
  #orphan(name: string): void {
    const s = this.#files.get(name);
    if (s === undefined) return;
    this.#files.delete(name);
    s.orphan = true;
    try {
      s.ah.close();
    } catch {
      // already closed
    }
  }

  async #exec(req: OpfsRequest): Promise<unknown> {
    switch (req.op) {
      case 'init': {
        this.#location = `opfs://${req.name}`;
        try {
          const root = await opfsRoot();
          const base = await root.getDirectoryHandle(rootDirName, { create: true });
          this.#dir = await base.getDirectoryHandle(req.name, { create: true });
        } catch (err) {
          throw this.#wrap('.', 'openDirectory', err);
        }
        return undefined;
      }
      case 'open': {
        const dir = this.#dirOrThrow(req.name, 'open');
        let s = this.#files.get(req.name);
        if (s === undefined) {
          try {
            const fh = await dir.getFileHandle(req.name, { create: req.create });
            const ah = await fh.createSyncAccessHandle();
            s = { name: req.name, ah, refs: 0, orphan: false };
            this.#files.set(req.name, s);
          } catch (err) {
            if (domName(err) === 'TypeMismatchError') throw this.#wrap(req.name, 'open', err);
            throw this.#wrap(req.name, 'open', err);
          }
        }
        s.refs++;
        const id = this.#nextId++;
        this.#handles.set(id, s);
        return id;
      }
      case 'read': {
        const s = this.#shared(req.id, 'read');
        try {
          const n = Math.max(0, Math.min(req.length, s.ah.getSize() - req.offset));
          const buf = new Uint8Array(n);
          let got = 0;
          while (got < n) {
            const r = s.ah.read(buf.subarray(got), { at: req.offset + got });
            if (r <= 0) break;
            got += r;
          }
          return got === n ? buf : buf.slice(0, got);
        } catch (err) {
          throw this.#wrap(s.name, 'read', err);
        }
      }
      case 'write':
      case 'append': {
        const s = this.#shared(req.id, req.op);
        try {
          const offset = req.op === 'append' ? s.ah.getSize() : req.offset;
          if (req.bytes.length === 0) {
            if (s.ah.getSize() < offset) s.ah.truncate(offset);
          } else {
            let done = 0;
            while (done < req.bytes.length) {
              const w = s.ah.write(req.bytes.subarray(done), { at: offset + done });
              if (w <= 0) throw new Error('short write');
              done += w;
            }
          }
          return offset;
        } catch (err) {
          throw this.#wrap(s.name, req.op, err);
        }
      }
      case 'size': {
        const s = this.#shared(req.id, 'size');
        try {
          return s.ah.getSize();
        } catch (err) {
          throw this.#wrap(s.name, 'size', err);
        }
      }
      case 'truncate': {
        const s = this.#shared(req.id, 'truncate');
        try {
          s.ah.truncate(req.length);
          return undefined;
        } catch (err) {
          throw this.#wrap(s.name, 'truncate', err);
        }
      }
      case 'sync': {
        const s = this.#shared(req.id, 'sync');
        try {
          s.ah.flush();
          return undefined;
        } catch (err) {
          throw this.#wrap(s.name, 'sync', err);
        }
      }
      case 'closeHandle': {
        const s = this.#handles.get(req.id);
        if (s === undefined) return undefined;
        this.#handles.delete(req.id);
        if (--s.refs > 0 || s.orphan) return undefined;
        this.#files.delete(s.name);
        try {
          s.ah.flush();
          s.ah.close();
        } catch (err) {
          throw this.#wrap(s.name, 'close', err);
        }
        return undefined;
      }
      case 'list': {
        const dir = this.#dirOrThrow('*', 'list');
        try {
          const names: string[] = [];
          for await (const [name, h] of dir.entries()) if (h.kind === 'file' && isValidFileName(name)) names.push(name);
          return names.sort();
        } catch (err) {
          throw this.#wrap('*', 'list', err);
        }
      }
      case 'exists': {
        const dir = this.#dirOrThrow(req.name, 'exists');
        if (this.#files.has(req.name)) return true;
        try {
          await dir.getFileHandle(req.name);
          return true;
        } catch (err) {
          const n = domName(err);
          if (n === 'NotFoundError' || n === 'TypeMismatchError') return false;
          throw this.#wrap(req.name, 'exists', err);
        }
      }
      case 'remove': {
        const dir = this.#dirOrThrow(req.name, 'remove');
        try {
          await dir.getFileHandle(req.name); // NotFound, or TypeMismatch for a directory
          this.#orphan(req.name);
          await dir.removeEntry(req.name);
          return undefined;
        } catch (err) {
          throw this.#wrap(req.name, 'remove', err);
        }
      }
      case 'replace': {
        const dir = this.#dirOrThrow(req.name, 'replace');
        const tmpName = `${req.name}~${++this.#tempCounter}${tempSuffix}`;
        try {
          const fh = await dir.getFileHandle(tmpName, { create: true });
          const ah = await fh.createSyncAccessHandle();
          try {
            ah.truncate(0);
            let done = 0;
            while (done < req.bytes.length) done += ah.write(req.bytes.subarray(done), { at: done });
            ah.flush();
          } finally {
            ah.close();
          }
          this.#orphan(req.name);
          await fh.move(dir, req.name);
          return undefined;
        } catch (err) {
          await dir.removeEntry(tmpName).catch(() => {});
          throw this.#wrap(req.name, 'replace', err);
        }
      }
      case 'readAll': {
        const dir = this.#dirOrThrow(req.name, 'readAll');
        const open = this.#files.get(req.name);
        try {
          if (open !== undefined) {
            const buf = new Uint8Array(open.ah.getSize());
            open.ah.read(buf, { at: 0 });
            return buf;
          }
          const fh = await dir.getFileHandle(req.name);
          const ah = await fh.createSyncAccessHandle();
          try {
            const buf = new Uint8Array(ah.getSize());
            let got = 0;
            while (got < buf.length) {
              const r = ah.read(buf.subarray(got), { at: got });
              if (r <= 0) break;
              got += r;
            }
            return buf;
          } finally {
            ah.close();
          }
        } catch (err) {
          throw this.#wrap(req.name, 'readAll', err);
        }
      }
      case 'cleanTemps': {
        await this.cleanTemps().catch(() => {});
        return undefined;
      }
      case 'close': {
        const errors: unknown[] = [];
        for (const s of this.#files.values()) {
          try {
            s.ah.flush();
            s.ah.close();
          } catch (err) {
            errors.push(this.#wrap(s.name, 'close', err));
          }
        }
        this.#files.clear();
        this.#handles.clear();
        this.#dir = undefined;
        if (errors.length > 0) throw errors[0];
        return undefined;
      }
    }
  }

  /** Removes leftover temp files of interrupted replaces (after the lock is taken). */
  private async cleanTemps(): Promise<void> {
    const dir = this.#dir;
    if (dir === undefined) return;
    const names: string[] = [];
    for await (const [name] of dir.entries()) if (name.includes('~') && name.endsWith(tempSuffix)) names.push(name);
    for (const n of names) await dir.removeEntry(n).catch(() => {});
  }
}

/** Serves OpfsCore requests on a worker scope (the body of opfs.worker.ts). */
export function serveOpfsWorker(scope: { onmessage: ((ev: MessageEvent) => void) | null; postMessage(msg: unknown, transfer?: Transferable[]): void }): void {
  const core = new OpfsCore();
  scope.onmessage = (ev: MessageEvent) => {
    const { seq, req } = ev.data as { seq: number; req: OpfsRequest };
    core.handle(req).then(
      (result) => {
        const transfer = result instanceof Uint8Array ? [result.buffer as ArrayBuffer] : [];
        scope.postMessage({ seq, ok: true, result } satisfies OpfsReply, transfer);
      },
      (err: unknown) => scope.postMessage({ seq, ok: false, error: toWire(err) } satisfies OpfsReply),
    );
  };
}

// ---------------------------------------------------------------------------------------------
// The adapter (page or worker side).
// ---------------------------------------------------------------------------------------------

type Transport = {
  call(req: OpfsRequest, transfer?: Transferable[]): Promise<unknown>;
  dispose(): void;
};

function directTransport(): Transport {
  const core = new OpfsCore();
  return {
    call: (req) => core.handle(req),
    dispose: () => {},
  };
}

function workerTransport(url: URL | string): Transport {
  const worker = new Worker(url, { type: 'module', name: 'largetable-opfs' });
  const pending = new Map<number, { resolve(v: unknown): void; reject(e: unknown): void }>();
  let seq = 0;
  let broken: LargetableError | undefined;
  worker.onmessage = (ev: MessageEvent) => {
    const reply = ev.data as OpfsReply;
    const p = pending.get(reply.seq);
    if (p === undefined) return;
    pending.delete(reply.seq);
    if (reply.ok) p.resolve(reply.result);
    else p.reject(fromWire(reply.error));
  };
  worker.onerror = (ev: ErrorEvent) => {
    ev.preventDefault?.();
    broken = new LargetableError(ErrorCode.IO_ERROR, `OPFS worker failed: ${ev.message || 'could not load the worker script'}`, {
      details: { file: '*', operation: 'worker', workerUrl: String(url) },
    });
    for (const p of pending.values()) p.reject(broken);
    pending.clear();
  };
  return {
    call(req, transfer = []) {
      if (broken !== undefined) return Promise.reject(broken);
      const s = ++seq;
      return new Promise((resolve, reject) => {
        pending.set(s, { resolve, reject });
        worker.postMessage({ seq: s, req }, transfer);
      });
    },
    dispose: () => worker.terminate(),
  };
}

export interface OpfsAdapterOptions {
  /**
   * 'worker': run OPFS calls in a dedicated module Worker (required on a page).
   * 'direct': call SyncAccessHandles in this thread (only inside a Worker).
   * Default: 'direct' inside a Worker, else 'worker'.
   */
  mode?: 'worker' | 'direct';
  /** URL of the bundled opfs.worker.js (default: next to this module). */
  workerUrl?: URL | string;
}

function inWorker(): boolean {
  const g = globalThis as { WorkerGlobalScope?: unknown; document?: unknown };
  return g.WorkerGlobalScope !== undefined && g.document === undefined;
}

/** Opens `opfs://name`: directory `largetable/name` of the origin private file system. */
export async function openOpfsAdapter(name: string, options: OpfsAdapterOptions = {}): Promise<OpfsAdapter> {
  const location = `opfs://${name}`;
  if (typeof name !== 'string' || name.length === 0 || !isValidFileName(name)) {
    throw new LargetableError(ErrorCode.INVALID_ARGUMENT, `opfs:// needs a name of [A-Za-z0-9._-], got ${JSON.stringify(name)}`);
  }
  const storage = (globalThis as { navigator?: { storage?: { getDirectory?: unknown } } }).navigator?.storage;
  if (typeof storage?.getDirectory !== 'function') {
    throw new LargetableError(ErrorCode.UNSUPPORTED_STORAGE, `${location}: this runtime has no Origin Private File System`, { details: { location } });
  }
  const mode = options.mode ?? (inWorker() ? 'direct' : 'worker');
  let transport: Transport;
  if (mode === 'direct') {
    transport = directTransport();
  } else {
    if (typeof Worker === 'undefined') {
      throw new LargetableError(ErrorCode.UNSUPPORTED_STORAGE, `${location}: OPFS needs a dedicated Worker and this runtime has none`, { details: { location } });
    }
    transport = workerTransport(options.workerUrl ?? new URL('./opfs.worker.js', import.meta.url));
  }
  try {
    await transport.call({ op: 'init', name });
  } catch (err) {
    transport.dispose();
    throw err;
  }
  return new OpfsAdapter(location, name, transport);
}

export class OpfsAdapter implements StorageAdapter {
  readonly location: string;
  readonly #lockKey: string;
  readonly #t: Transport;
  #closed = false;
  #release: (() => Promise<void>) | undefined;

  /** Use `openOpfsAdapter`. */
  constructor(location: string, name: string, transport: Transport) {
    this.location = location;
    this.#lockKey = `largetable:opfs:${name}`;
    this.#t = transport;
  }

  get closed(): boolean {
    return this.#closed;
  }

  #check(file: string, operation: string): void {
    if (this.#closed) throw closedError(this.location, file, operation);
  }

  /** @internal */
  call(req: OpfsRequest, transfer?: Transferable[]): Promise<unknown> {
    return this.#t.call(req, transfer);
  }

  async open(name: string, options: { create?: boolean } = {}): Promise<FileHandle> {
    checkFileName(name, 'open');
    this.#check(name, 'open');
    const id = (await this.#t.call({ op: 'open', name, create: options.create === true })) as number;
    return new OpfsFileHandleProxy(this, name, id);
  }

  async list(): Promise<string[]> {
    this.#check('*', 'list');
    return (await this.#t.call({ op: 'list' })) as string[];
  }

  async exists(name: string): Promise<boolean> {
    checkFileName(name, 'exists');
    this.#check(name, 'exists');
    return (await this.#t.call({ op: 'exists', name })) as boolean;
  }

  async remove(name: string): Promise<void> {
    checkFileName(name, 'remove');
    this.#check(name, 'remove');
    await this.#t.call({ op: 'remove', name });
  }

  async replace(name: string, bytes: Uint8Array): Promise<void> {
    checkFileName(name, 'replace');
    checkBytes(bytes, name, 'replace');
    this.#check(name, 'replace');
    const copy = bytes.slice();
    await this.#t.call({ op: 'replace', name, bytes: copy }, [copy.buffer]);
  }

  async readAll(name: string): Promise<Uint8Array> {
    checkFileName(name, 'readAll');
    this.#check(name, 'readAll');
    return (await this.#t.call({ op: 'readAll', name })) as Uint8Array;
  }

  async lock(): Promise<void> {
    this.#check('LOCK', 'lock');
    if (this.#release !== undefined) return;
    this.#release = await takeWebLock(this.#lockKey, this.location);
    await this.#t.call({ op: 'cleanTemps' }); // leftovers of an interrupted replace
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await this.#t.call({ op: 'close' });
    } finally {
      this.#t.dispose();
      const release = this.#release;
      this.#release = undefined;
      await release?.();
    }
  }
}

class OpfsFileHandleProxy implements FileHandle {
  readonly name: string;
  readonly #a: OpfsAdapter;
  readonly #id: number;
  #closed = false;

  constructor(adapter: OpfsAdapter, name: string, id: number) {
    this.#a = adapter;
    this.name = name;
    this.#id = id;
  }

  #check(operation: string): void {
    if (this.#closed || this.#a.closed) throw closedError(this.#a.location, this.name, operation);
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    checkByteCount(offset, 'offset', this.name, 'read');
    checkByteCount(length, 'length', this.name, 'read');
    this.#check('read');
    return (await this.#a.call({ op: 'read', id: this.#id, offset, length })) as Uint8Array;
  }

  async write(offset: number, bytes: Uint8Array): Promise<void> {
    checkByteCount(offset, 'offset', this.name, 'write');
    checkBytes(bytes, this.name, 'write');
    this.#check('write');
    const copy = bytes.slice();
    await this.#a.call({ op: 'write', id: this.#id, offset, bytes: copy }, [copy.buffer]);
  }

  async append(bytes: Uint8Array): Promise<number> {
    checkBytes(bytes, this.name, 'append');
    this.#check('append');
    const copy = bytes.slice();
    return (await this.#a.call({ op: 'append', id: this.#id, bytes: copy }, [copy.buffer])) as number;
  }

  async size(): Promise<number> {
    this.#check('size');
    return (await this.#a.call({ op: 'size', id: this.#id })) as number;
  }

  async truncate(length: number): Promise<void> {
    checkByteCount(length, 'length', this.name, 'truncate');
    this.#check('truncate');
    await this.#a.call({ op: 'truncate', id: this.#id, length });
  }

  async sync(): Promise<void> {
    this.#check('sync');
    await this.#a.call({ op: 'sync', id: this.#id });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#a.closed) return;
    await this.#a.call({ op: 'closeHandle', id: this.#id });
  }
}
