/**
 * LargetableClient, Db and ClientSession: the MongoDB Node driver's client-side shapes over the
 * document engine (src/document/). Runtime-neutral: opening a location (path, memory://, idb://,
 * opfs://) goes through the platform registered by the runtime entry (platform/<rt>/index.ts) with
 * `setPlatform`, or a caller passes `{ store }` / `{ adapter }` directly.
 */
import { LargetableError } from './errors.ts';
import { ttlSweepIntervalMs } from './limits.ts';
import { compileFilter } from './query/filter.ts';
import type { Document } from './query/values.ts';
import { isPlainObject } from './query/values.ts';
import type { StorageAdapter } from './storage/adapter.ts';
import { openStore, type EngineOptions } from './storage/index.ts';
import type { Store } from './storage/store.ts';
import { AggregationCursor } from './document/aggregate.ts';
import { ChangeStream } from './document/changestream.ts';
import { Collection, type ClientCore, type SessionLike } from './document/collection.ts';
import { AbstractCursor } from './document/cursor.ts';
import { Engine, validateName, type TxnState } from './document/engine.ts';
import { indexPrefix } from './document/keyspace.ts';
import { complement, concatBytes, encodeValue, prefixEnd, readValue, Tag } from './document/keycodec.ts';
import { registerVectorIndexKind } from './vector/index.ts';

export interface Platform {
  /** Opens the storage adapter for a location string. */
  openAdapter(location: string): Promise<StorageAdapter>;
  /** Loads and installs the wasm kernels (optional). */
  loadKernels?(): Promise<unknown>;
}

let platform: Platform | undefined;

let kernelFallbackWarned = false;
/**
 * 'auto' kernels that failed to load (a wasm file missing from a copied or bundled build, a fetch
 * that failed): the engine runs on the TypeScript twin, several times slower on checksums,
 * distances and codecs. Said once per process, so that it is never silent.
 */
function warnKernelFallback(err: unknown): void {
  if (kernelFallbackWarned) return;
  kernelFallbackWarned = true;
  const why = err instanceof Error ? err.message : String(err);
  console.warn(`largetable: wasm kernels failed to load (${why}); running on the TypeScript kernels, several times slower. Pass { kernels: 'wasm' } to make this an error, or { kernels: 'typescript' } to choose them.`);
}

/** Called once by each runtime entry point. */
export function setPlatform(p: Platform): void {
  platform = p;
}

export interface ClientOptions extends EngineOptions {
  /** The runtime platform (set by the runtime entry's `open` / `LargetableClient`). */
  platform?: Platform;
  /** An already opened store (the client owns it and closes it). */
  store?: Store;
  /** An adapter to open the store on. */
  adapter?: StorageAdapter;
  /** 'auto' (default): wasm kernels when loadable, else the TypeScript twin; 'wasm': fail if not loadable; 'typescript': never load wasm. */
  kernels?: 'auto' | 'wasm' | 'typescript';
  /** Budget of the decoded-document cache in bytes (default limits.documentCacheBytesDefault; 0 disables). */
  documentCacheBytes?: number;
  /** Run the TTL sweep every `ttlSweepIntervalMs` (default true; false for deterministic tests). */
  ttlMonitor?: boolean;
}

export class Db {
  readonly databaseName: string;
  readonly client: LargetableClient;
  constructor(client: LargetableClient, name: string) {
    validateName('database', name);
    this.client = client;
    this.databaseName = name;
  }
  collection<T extends Document = Document>(name: string): Collection<T> {
    validateName('collection', name);
    return this.client.collection(this.databaseName, name) as unknown as Collection<T>;
  }
  async createCollection<T extends Document = Document>(name: string, options: Document = {}): Promise<Collection<T>> {
    await this.client.engine.createCollection(this.databaseName, validateName('collection', name), options);
    return this.collection<T>(name);
  }
  listCollections(filter: Document = {}, options: { nameOnly?: boolean } = {}): AbstractCursor<Document> {
    const engine = this.client.engine;
    engine.checkOpen();
    const dbName = this.databaseName;
    const matcher = compileFilter(filter);
    return new (class extends AbstractCursor<Document> {
      protected async *open(): AsyncGenerator<Document> {
        for (const c of engine.collections()) {
          if (c.db !== dbName) continue;
          const d: Document = options.nameOnly
            ? { name: c.name, type: 'collection' }
            : { name: c.name, type: 'collection', options: c.options, info: { readOnly: false }, idIndex: { v: 2, key: { _id: 1 }, name: '_id_' } };
          if (matcher.test(d)) yield d;
        }
      }
    })();
  }
  async collections(): Promise<Collection[]> {
    const names = (await this.listCollections({}, { nameOnly: true }).toArray()).map((d) => d.name as string);
    return names.map((n) => this.collection(n));
  }
  async dropCollection(name: string): Promise<boolean> {
    return this.client.engine.dropCollection(this.databaseName, name);
  }
  async renameCollection(from: string, to: string, options: { dropTarget?: boolean } = {}): Promise<Collection> {
    await this.client.engine.renameCollection(this.databaseName, from, this.databaseName, to, !!options.dropTarget);
    return this.collection(to);
  }
  async dropDatabase(): Promise<boolean> {
    for (const c of [...this.client.engine.collections()]) if (c.db === this.databaseName) await this.client.engine.dropCollection(c.db, c.name);
    return true;
  }
  async stats(): Promise<Document> {
    let objects = 0;
    let dataSize = 0;
    let collections = 0;
    let indexes = 0;
    for (const c of this.client.engine.collections()) {
      if (c.db !== this.databaseName) continue;
      collections++;
      indexes += c.indexes.length + 1;
      const n = this.client.engine.counters.get(c.id);
      objects += n?.count ?? 0;
      dataSize += n?.bytes ?? 0;
    }
    return { db: this.databaseName, collections, views: 0, objects, avgObjSize: objects ? dataSize / objects : 0, dataSize, storageSize: dataSize, indexes, ok: 1 };
  }
  aggregate(pipeline: Document[] = [], options: Document = {}): AbstractCursor<Document> {
    // database-level aggregate: only $documents-style sources are meaningful; run on an empty source
    return this.collection('$cmd.aggregate').aggregate(pipeline, options);
  }
  watch(pipeline: Document[] = [], options: Document = {}): ChangeStream {
    this.client.engine.checkOpen();
    return new ChangeStream(this.client.engine, { db: this.databaseName }, pipeline, options);
  }
  admin(): Admin {
    return new Admin(this.client);
  }
  async command(cmd: Document): Promise<Document> {
    if ('ping' in cmd) return { ok: 1 };
    if ('dbStats' in cmd) return this.stats();
    if ('listDatabases' in cmd) return this.client.listDatabasesResult();
    throw new LargetableError('NOT_SUPPORTED', `command ${Object.keys(cmd)[0]} is not supported`);
  }
}

export class Admin {
  private readonly client: LargetableClient;
  constructor(client: LargetableClient) {
    this.client = client;
  }
  async listDatabases(): Promise<Document> {
    return this.client.listDatabasesResult();
  }
  async ping(): Promise<Document> {
    return { ok: 1 };
  }
}

export interface TransactionOptions {
  readConcern?: Document;
  writeConcern?: Document;
  maxCommitTimeMS?: number;
}

export class ClientSession implements SessionLike {
  readonly client: LargetableClient;
  readonly id: Document;
  private txn: TxnState | undefined;
  private _ended = false;
  private _state: 'NO_TRANSACTION' | 'STARTING_TRANSACTION' | 'TRANSACTION_IN_PROGRESS' | 'TRANSACTION_COMMITTED' | 'TRANSACTION_ABORTED' = 'NO_TRANSACTION';
  constructor(client: LargetableClient) {
    this.client = client;
    this.id = { id: crypto.randomUUID() };
  }
  get transactionState(): TxnState | undefined {
    return this.txn;
  }
  get hasEnded(): boolean {
    return this._ended;
  }
  inTransaction(): boolean {
    return this.txn !== undefined;
  }
  assertUsable(): void {
    if (this._ended) throw new LargetableError('INVALID_ARGUMENT', 'Cannot use a session that has ended');
    if (this.client.engineOrUndefined === undefined) throw new LargetableError('CLOSED', 'client is closed');
  }
  startTransaction(_options: TransactionOptions = {}): void {
    this.assertUsable();
    if (this.txn) throw new LargetableError('INVALID_ARGUMENT', 'Transaction already in progress');
    this.txn = this.client.engine.beginTransaction();
    this._state = 'TRANSACTION_IN_PROGRESS';
  }
  async commitTransaction(): Promise<void> {
    this.assertUsable();
    const t = this.txn;
    if (!t) {
      if (this._state === 'TRANSACTION_COMMITTED') return;
      throw new LargetableError('INVALID_ARGUMENT', 'No transaction started');
    }
    this.txn = undefined;
    try {
      await this.client.engine.commitTransaction(t);
      this._state = 'TRANSACTION_COMMITTED';
    } catch (err) {
      this._state = 'TRANSACTION_ABORTED';
      throw err;
    }
  }
  async abortTransaction(): Promise<void> {
    const t = this.txn;
    if (!t) throw new LargetableError('INVALID_ARGUMENT', 'No transaction started');
    this.txn = undefined;
    this.client.engine.abortTransaction(t);
    this._state = 'TRANSACTION_ABORTED';
  }
  /** Runs fn in a transaction, retrying on WRITE_CONFLICT (TransientTransactionError) a few times. */
  async withTransaction<R>(fn: (session: ClientSession) => Promise<R>, options: TransactionOptions = {}): Promise<R> {
    for (let attempt = 0; ; attempt++) {
      this.startTransaction(options);
      let result: R;
      try {
        result = await fn(this);
      } catch (err) {
        if (this.txn) await this.abortTransaction();
        if (err instanceof LargetableError && err.code === 'WRITE_CONFLICT' && attempt < 5) continue;
        throw err;
      }
      if (!this.txn) return result; // fn committed or aborted explicitly
      try {
        await this.commitTransaction();
        return result;
      } catch (err) {
        if (err instanceof LargetableError && err.code === 'WRITE_CONFLICT' && attempt < 5) continue;
        throw err;
      }
    }
  }
  async endSession(): Promise<void> {
    if (this.txn) await this.abortTransaction();
    this._ended = true;
  }
  async [Symbol.asyncDispose](): Promise<void> {
    await this.endSession();
  }
}

/** The client. `await new LargetableClient(location).connect()` or `await open(location)`. */
export class LargetableClient implements ClientCore {
  readonly location: string;
  readonly options: ClientOptions;
  private _engine: Engine | undefined;
  private connecting: Promise<this> | undefined;
  private readonly collections = new Map<string, Collection>();
  private ttlTimer: ReturnType<typeof setInterval> | undefined;
  /** Kernel build in use after connect ('simd' | 'scalar' | 'typescript'). */
  kernelBuild = 'typescript';

  constructor(location = 'memory://', options: ClientOptions = {}) {
    if (typeof location !== 'string') throw new LargetableError('INVALID_ARGUMENT', 'location must be a string');
    if (!isPlainObject(options) && typeof options !== 'object') throw new LargetableError('INVALID_ARGUMENT', 'options must be an object');
    this.location = location;
    this.options = options;
  }

  get engine(): Engine {
    if (!this._engine) throw new LargetableError(this.connecting ? 'CLOSED' : 'CLOSED', this.connecting === undefined ? 'client is not connected (call connect())' : 'client is closed');
    this._engine.checkOpen();
    return this._engine;
  }

  /** @internal */
  get engineOrUndefined(): Engine | undefined {
    return this._engine && !this._engine.closed ? this._engine : undefined;
  }

  connect(): Promise<this> {
    if (!this.connecting) {
      this.connecting = this.doConnect();
      this.connecting.catch(() => (this.connecting = undefined));
    }
    return this.connecting;
  }

  private async doConnect(): Promise<this> {
    const o = this.options;
    registerVectorIndexKind();
    const plat = o.platform ?? platform;
    // the kernels first: the store's recovery checksums every WAL record and segment footer, index
    // and bloom it reads (with the TypeScript twin until the wasm build is installed, ~4x slower)
    let kernelError: unknown = null;
    if (o.kernels !== 'typescript' && plat?.loadKernels) {
      try {
        const k = (await plat.loadKernels()) as { build?: string };
        this.kernelBuild = k.build ?? 'wasm';
      } catch (err) {
        kernelError = err;
      }
    }
    if (kernelError !== null && o.kernels === 'wasm') {
      await o.store?.close();
      throw new LargetableError('KERNEL_ERROR', 'wasm kernels failed to load', { cause: kernelError });
    }
    if (kernelError !== null) warnKernelFallback(kernelError);
    let store = o.store;
    if (!store) {
      let adapter = o.adapter;
      if (!adapter) {
        if (!plat) throw new LargetableError('UNSUPPORTED_STORAGE', 'no platform registered: import largetable from a runtime entry, or pass { adapter } or { store }');
        adapter = await plat.openAdapter(this.location);
      }
      const storeOptions: EngineOptions = {};
      for (const k of ['durability', 'memtableSizeBytes', 'blockCacheSizeBytes', 'autoCompact', 'blockSizeBytes', 'compressionLevel', 'segmentSizeBytes'] as const) {
        if (o[k] !== undefined) (storeOptions as Record<string, unknown>)[k] = o[k];
      }
      store = await openStore(adapter, storeOptions);
    }
    try {
      this._engine = await Engine.open(store, o.documentCacheBytes !== undefined ? { documentCacheBytes: o.documentCacheBytes } : {});
    } catch (err) {
      await store.close();
      throw err;
    }
    this.aggregate = (coll, pipeline, options) => new AggregationCursor(coll, pipeline, options);
    this.watchCollection = (coll, db, pipeline, options) => new ChangeStream(this.engine, { db, coll: coll?.collectionName }, pipeline, options);
    if (o.ttlMonitor !== false) {
      this.ttlTimer = setInterval(() => {
        void this.runTtlSweep().catch(() => undefined);
      }, ttlSweepIntervalMs);
      (this.ttlTimer as unknown as { unref?: () => void }).unref?.();
    }
    return this;
  }

  aggregate?: ClientCore['aggregate'];
  /** @internal */
  watchCollection?: ClientCore['watchCollection'];

  db(name = 'test'): Db {
    return new Db(this, name);
  }

  /** @internal */
  collection(db: string, name: string): Collection {
    const key = `${db}.${name}`;
    let c = this.collections.get(key);
    if (!c) {
      c = new Collection(this, db, name);
      this.collections.set(key, c);
    }
    return c;
  }

  startSession(_options: Document = {}): ClientSession {
    this.engine.checkOpen();
    return new ClientSession(this);
  }

  async withSession<R>(fn: (s: ClientSession) => Promise<R>): Promise<R> {
    const s = this.startSession();
    try {
      return await fn(s);
    } finally {
      await s.endSession();
    }
  }

  /** Whole-deployment change stream (every database and collection), as MongoClient.watch(). */
  watch<T = Document>(pipeline: Document[] = [], options: Document = {}): ChangeStream<T> {
    return new ChangeStream<T>(this.engine, {}, pipeline, options);
  }

  /** @internal */
  listDatabasesResult(): Document {
    const dbs = new Map<string, number>();
    for (const c of this.engine.collections()) dbs.set(c.db, (dbs.get(c.db) ?? 0) + (this.engine.counters.get(c.id)?.bytes ?? 0));
    const databases = [...dbs.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([name, sizeOnDisk]) => ({ name, sizeOnDisk, empty: sizeOnDisk === 0 }));
    return { databases, totalSize: databases.reduce((s, d) => s + d.sizeOnDisk, 0), ok: 1 };
  }

  async listDatabases(): Promise<Document> {
    return this.listDatabasesResult();
  }

  /**
   * Deletes documents whose TTL-indexed date is older than expireAfterSeconds (arrays: the
   * earliest date). Deterministic: pass `now`. Returns the number of documents deleted.
   */
  async runTtlSweep(now: Date = new Date()): Promise<number> {
    const engine = this.engine;
    let deleted = 0;
    for (const c of [...engine.collections()]) {
      for (const ix of c.indexes) {
        if (ix.expireAfterSeconds === undefined || ix.kind) continue;
        const cutoff = new Date(now.getTime() - ix.expireAfterSeconds * 1000);
        const field = Object.keys(ix.key)[0]!;
        const desc = ix.key[field] === -1;
        // expired entries: date bracket keys below the cutoff
        const ids: unknown[] = [];
        const prefix = indexPrefix(ix.id);
        // only the date bracket below the cutoff (ascending), or its mirror (descending)
        const cut = encodeValue(cutoff);
        const range = desc
          ? { gte: prefixEnd(concatBytes(prefix, complement(cut)))!, lt: concatBytes(prefix, Uint8Array.of((~Tag.date & 0xff) + 1)) }
          : { gte: concatBytes(prefix, Uint8Array.of(Tag.date)), lt: concatBytes(prefix, cut) };
        for await (const [k] of engine.live.range(range)) {
          const [v, o] = readValue(k, prefix.length, desc);
          if (v instanceof Date && v.getTime() < cutoff.getTime()) ids.push(readValue(k, o)[0]);
        }
        if (ids.length === 0) continue;
        const coll = this.collection(c.db, c.name);
        const r = await coll.deleteMany({ _id: { $in: ids }, $or: [{ [field]: { $lt: cutoff } }, { [field]: { $elemMatch: { $lt: cutoff } } }] });
        deleted += r.deletedCount;
      }
    }
    return deleted;
  }

  async close(_force = false): Promise<void> {
    if (this.ttlTimer) clearInterval(this.ttlTimer);
    this.ttlTimer = undefined;
    const e = this._engine;
    if (!e || e.closed) return;
    await e.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/** Opens a client on `location` (runtime entry must have registered a platform). */
export async function openClient(location: string, options: ClientOptions = {}): Promise<LargetableClient> {
  return new LargetableClient(location, options).connect();
}
