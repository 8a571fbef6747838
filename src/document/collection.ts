/**
 * Collection: the MongoDB driver's collection API over the document engine. Every write stages the
 * document, all its index entries, plugin ops, counters and the change-log entry in one WriteScope,
 * committed as ONE atomic store batch. Refused writes stage nothing.
 */
import { ObjectId } from 'bson';
import { LargetableError, mongoCodeOf } from '../errors.ts';
import { documentSizeBytesMax, writeBatchDocumentsMax } from '../limits.ts';
import { compileFilter, type Matcher } from '../query/filter.ts';
import { compileProjection } from '../query/projection.ts';
import { compileSort } from '../query/sort.ts';
import { applyUpdate, isReplacement, upsertSeed } from '../query/update.ts';
import { validateDocument } from '../query/validate.ts';
import { cloneValue, compareValues, isPlainObject, valuesEqual, type Document } from '../query/values.ts';
import { AbstractCursor } from './cursor.ts';
import { encodeFastValidated, type Reserved } from './bsonencode.ts';
import type { AggregationCursor } from './aggregate.ts';
import type { ChangeStream } from './changestream.ts';
import { changeHeaderBytes, decodeDocument, encodeDocument, encodeDocumentShared, type CollMeta, type Engine, type IndexMeta, type PreparedInsert, type TxnState, type WriteScope } from './engine.ts';
import { choosePlan, countMatches, explainFind, runFind, runFindBatches, scan, type ExecStats, type FindRequest, type FoundDoc } from './exec.ts';
import { documentKey, documentKeyOf, documentKeyPrefixBytes, documentKeyScratch, encodeId } from './keyspace.ts';
import type { KVReader } from './kv.ts';
import { indexKindFactory, pluginKindOf, type IndexPlugin } from './plugins.ts';

export interface SessionLike {
  /** The transaction this session is in, if any. */
  readonly transactionState?: TxnState | undefined;
  /** Called by operations to check the session belongs to this client and is usable. */
  assertUsable?(): void;
}

export interface OperationOptions {
  session?: SessionLike | undefined;
  /** `{ j: false }` acknowledges before the write is fsynced (durability 'relaxed'). */
  writeConcern?: { j?: boolean; w?: number | string } | undefined;
}

function durabilityOf(options?: OperationOptions): 'relaxed' | undefined {
  return options?.writeConcern?.j === false ? 'relaxed' : undefined;
}

/** The parts of the client a collection needs. */
export interface ClientCore {
  readonly engine: Engine;
  collection(db: string, name: string): Collection;
  /** Aggregation support (set by the aggregation module). */
  aggregate?(coll: Collection, pipeline: Document[], options: Document): AggregationCursor<Document>;
  watchCollection?(coll: Collection | undefined, db: string | undefined, pipeline: Document[], options: Document): ChangeStream<Document>;
}

export interface InsertOneResult {
  acknowledged: boolean;
  insertedId: unknown;
}
export interface InsertManyResult {
  acknowledged: boolean;
  insertedCount: number;
  insertedIds: Record<number, unknown>;
}
export interface UpdateResult {
  acknowledged: boolean;
  matchedCount: number;
  modifiedCount: number;
  upsertedCount: number;
  upsertedId: unknown;
}
export interface DeleteResult {
  acknowledged: boolean;
  deletedCount: number;
}

export interface FindOptions extends OperationOptions {
  sort?: Document | [string, 1 | -1][] | string;
  skip?: number;
  limit?: number;
  projection?: Document;
  batchSize?: number;
  hint?: string | Document;
}

function normalizeSort(sort: unknown): Document | undefined {
  if (sort === undefined || sort === null) return undefined;
  if (typeof sort === 'string') return { [sort]: 1 };
  if (Array.isArray(sort)) {
    if (sort.length === 2 && typeof sort[0] === 'string' && (typeof sort[1] === 'number' || typeof sort[1] === 'string')) return { [sort[0]]: dirOf(sort[1]) };
    const out: Document = {};
    for (const e of sort) {
      if (typeof e === 'string') out[e] = 1;
      else if (Array.isArray(e)) out[String(e[0])] = dirOf(e[1]);
    }
    return out;
  }
  if (isPlainObject(sort)) {
    const out: Document = {};
    for (const [k, v] of Object.entries(sort)) out[k] = isPlainObject(v) ? v : dirOf(v);
    return out;
  }
  throw new LargetableError('BAD_QUERY', 'sort must be a document');
}

function dirOf(v: unknown): 1 | -1 {
  if (v === -1 || v === '-1' || v === 'desc' || v === 'descending') return -1;
  if (v === 1 || v === '1' || v === 'asc' || v === 'ascending') return 1;
  throw new LargetableError('BAD_QUERY', `invalid sort direction ${String(v)}`);
}

function checkFilter(filter: unknown): Document {
  if (filter === undefined || filter === null) return {};
  if (!isPlainObject(filter)) throw new LargetableError('BAD_QUERY', 'filter must be a document');
  return filter;
}

function checkCount(n: unknown, what: string): number | undefined {
  if (n === undefined || n === null) return undefined;
  if (typeof n !== 'number' || !Number.isFinite(n) || !Number.isInteger(n) || n < 0) {
    if (what === 'limit' && typeof n === 'number' && Number.isInteger(n) && n < 0) return -n;
    throw new LargetableError('INVALID_ARGUMENT', `${what} must be a non-negative integer`);
  }
  return n;
}

export class FindCursor<T = Document> extends AbstractCursor<T> {
  private readonly coll: Collection;
  private req: FindRequest;
  private readonly session: SessionLike | undefined;
  constructor(coll: Collection, filter: Document, options: FindOptions = {}) {
    super();
    this.coll = coll;
    this.session = options.session;
    this.req = { filter: checkFilter(filter) };
    compileFilter(this.req.filter);
    if (options.sort !== undefined) this.sort(options.sort);
    if (options.skip !== undefined) this.skip(options.skip);
    if (options.limit !== undefined) this.limit(options.limit);
    if (options.projection !== undefined) this.project(options.projection);
    if (options.batchSize !== undefined) this.batchSize(options.batchSize);
    if (options.hint !== undefined) this.hint(options.hint);
  }
  protected open(): AsyncGenerator<Document> {
    const stats: ExecStats = { keysExamined: 0, docsExamined: 0, nReturned: 0 };
    return this.coll.runFind(this.req, stats, this.session);
  }
  protected override openBatches(): AsyncGenerator<Document[]> {
    const stats: ExecStats = { keysExamined: 0, docsExamined: 0, nReturned: 0 };
    return this.coll.runFindBatches(this.req, stats, this.session);
  }
  filter(f: Document): this {
    this.assertNotStarted();
    this.req.filter = checkFilter(f);
    compileFilter(this.req.filter);
    return this;
  }
  sort(sort: unknown, direction?: 1 | -1 | 'asc' | 'desc'): this {
    this.assertNotStarted();
    const s = typeof sort === 'string' && direction !== undefined ? { [sort]: dirOf(direction) } : normalizeSort(sort);
    if (s) compileSort(s);
    this.req.sort = s;
    return this;
  }
  skip(n: number): this {
    this.assertNotStarted();
    this.req.skip = checkCount(n, 'skip');
    return this;
  }
  limit(n: number): this {
    this.assertNotStarted();
    this.req.limit = checkCount(n, 'limit');
    return this;
  }
  project<U = Document>(projection: Document): FindCursor<U> {
    this.assertNotStarted();
    if (!isPlainObject(projection)) throw new LargetableError('BAD_QUERY', 'projection must be a document');
    compileProjection(projection);
    this.req.projection = projection;
    return this as unknown as FindCursor<U>;
  }
  projection(projection: Document): this {
    return this.project(projection) as unknown as this;
  }
  hint(h: string | Document): this {
    this.assertNotStarted();
    this.req.hint = h;
    return this;
  }
  override map<U>(fn: (doc: T) => U): FindCursor<U> {
    return super.map(fn) as unknown as FindCursor<U>;
  }
  /** Number of matching documents (applies skip and limit when `applySkipLimit`, as the driver did). */
  async count(applySkipLimit = false): Promise<number> {
    return this.coll.countDocuments(this.req.filter, {
      ...(applySkipLimit && this.req.skip ? { skip: this.req.skip } : {}),
      ...(applySkipLimit && this.req.limit ? { limit: this.req.limit } : {}),
      session: this.session,
    });
  }
  async explain(verbosity: string | boolean = 'executionStats'): Promise<Document> {
    const v = verbosity === true ? 'allPlansExecution' : verbosity === false ? 'queryPlanner' : verbosity;
    return this.coll.explainFind(this.req, v, this.session);
  }
  clone(): FindCursor<T> {
    const c = new FindCursor<T>(this.coll, this.req.filter, { session: this.session });
    c.req = { ...this.req };
    return c;
  }
}

export class ListIndexesCursor extends AbstractCursor<Document> {
  private readonly coll: Collection;
  constructor(coll: Collection) {
    super();
    this.coll = coll;
  }
  protected async *open(): AsyncGenerator<Document> {
    for (const d of this.coll.indexSpecs()) yield d;
  }
}

export class Collection<TSchema extends Document = Document> {
  readonly dbName: string;
  readonly collectionName: string;
  readonly client: ClientCore;
  /** prepareInsert's encoders report here the room they reserved before the bytes (reused, no object per insert). */
  private readonly reserved: Reserved = { room: 0 };

  constructor(client: ClientCore, dbName: string, name: string) {
    this.client = client;
    this.dbName = dbName;
    this.collectionName = name;
  }

  get namespace(): string {
    return `${this.dbName}.${this.collectionName}`;
  }

  private get engine(): Engine {
    return this.client.engine;
  }

  /** @internal current catalog entry (undefined: the collection does not exist yet). */
  meta(): CollMeta | undefined {
    return this.metaIn(this.engine);
  }

  /** `meta()` with the engine already fetched (the `engine` getter checks the client is open). */
  private metaIn(engine: Engine): CollMeta | undefined {
    engine.checkOpen();
    // the lookup by namespace builds a string per call: reuse it while the catalog is unchanged
    if (engine === this.metaEngine && engine.catalogVersion === this.metaVersion) return this.metaCached;
    const m = engine.collection(this.dbName, this.collectionName);
    this.metaEngine = engine;
    this.metaVersion = engine.catalogVersion;
    this.metaCached = m;
    return m;
  }
  private metaEngine: Engine | undefined;
  private metaVersion = -1;
  private metaCached: CollMeta | undefined;

  private txn(options?: OperationOptions): TxnState | undefined {
    const s = options?.session;
    if (s?.assertUsable) s.assertUsable();
    return s?.transactionState;
  }

  private reader(options?: OperationOptions): KVReader {
    return this.engine.reader(this.txn(options));
  }

  // ------------------------------------------------------------------ reads

  find<T = TSchema>(filter: Document = {}, options: FindOptions = {}): FindCursor<T> {
    this.engine.checkOpen();
    return new FindCursor<T>(this as unknown as Collection, filter, options);
  }

  findOne<T = TSchema>(filter: Document = {}, options?: FindOptions): Promise<T | null> {
    // fast path: point lookup by _id (IDHACK) without cursor machinery, synchronous to the end
    // when the document is cached (document cache, memtable or cached blocks); no options
    // object allocated when none is given, the engine looked up (and checked open) once
    if (isPlainObject(filter) && (options === undefined || (options.projection === undefined && options.sort === undefined && !options.skip && options.hint === undefined))) {
      const id = filter._id;
      if (isPointId(id) && onlyKey(filter, '_id')) {
        try {
          const engine = this.engine;
          const coll = this.metaIn(engine);
          if (!coll) return Promise.resolve(null);
          const reader = engine.reader(this.txn(options));
          // the key in a reused buffer: the synchronous probe keeps none of it; a read that
          // needs I/O awaits with its own copy
          const dk = documentKeyScratch(coll.id, id);
          // a string _id is the document's own (decoded as this string, not a new one)
          const r = engine.pointRead(reader, dk, typeof id === 'string' ? id : undefined);
          return (r !== undefined ? Promise.resolve(r) : engine.pointReadAsync(reader, dk.slice())) as Promise<T | null>;
        } catch (err) {
          return Promise.reject(err);
        }
      }
    }
    return this.findOneSlow(filter, options ?? {});
  }

  private async findOneSlow<T>(filter: Document, options: FindOptions): Promise<T | null> {
    const c = this.find<T>(filter, { ...options, limit: 1 });
    const d = await c.next();
    await c.close();
    return d;
  }

  /**
   * @internal The wire server's point read (`find` with `{ _id: id }` only): the document's BSON
   * as stored (read-only, possibly shared: copy it out, never mutate), or null when there is none.
   * Reads the latest committed state, as findOne without a session does. Undefined when `id` is
   * not a point value (the caller takes the general find path).
   */
  async findRawById(id: unknown): Promise<Uint8Array | null | undefined> {
    if (!isPointId(id)) return undefined;
    const coll = this.meta();
    if (!coll) return null;
    const r = await this.engine.readRaw(this.engine.live, coll.id, encodeId(id));
    if (!r) return null;
    return r.raw ?? encodeDocument(r.cached!);
  }

  /** @internal */
  runFindBatches(req: FindRequest, stats: ExecStats, session?: SessionLike): AsyncGenerator<Document[]> {
    const txn = this.txn({ session });
    const engine = this.engine;
    const self = this;
    return (async function* () {
      engine.checkOpen();
      yield* runFindBatches(engine, self.meta(), engine.reader(txn), req, stats);
    })();
  }

  /** @internal */
  runFind(req: FindRequest, stats: ExecStats, session?: SessionLike): AsyncGenerator<Document> {
    const txn = this.txn({ session });
    const engine = this.engine;
    const self = this;
    return (async function* () {
      engine.checkOpen();
      yield* runFind(engine, self.meta(), engine.reader(txn), req, stats);
    })();
  }

  /** @internal */
  async explainFind(req: FindRequest, verbosity: string, session?: SessionLike): Promise<Document> {
    return explainFind(this.engine, this.meta(), this.reader({ session }), req, this.namespace, verbosity);
  }

  async countDocuments(filter: Document = {}, options: { skip?: number; limit?: number; session?: SessionLike | undefined; hint?: string | Document } = {}): Promise<number> {
    const f = checkFilter(filter);
    const coll = this.meta();
    if (!coll) return 0;
    const skip = checkCount(options.skip, 'skip') ?? 0;
    const limit = checkCount(options.limit, 'limit') ?? Infinity;
    if (Object.keys(f).length === 0 && !this.txn(options) && this.engine.inflight.length === 0) {
      const c = this.engine.counters.get(coll.id)?.count ?? 0;
      return Math.max(0, Math.min(limit, c - skip));
    }
    const stats: ExecStats = { keysExamined: 0, docsExamined: 0, nReturned: 0 };
    const reader = this.reader(options);
    const { plan } = await choosePlan(this.engine, coll, reader, { filter: f, ...(options.hint ? { hint: options.hint } : {}) });
    const n = await countMatches(this.engine, coll, reader, plan, f, stats, skip + limit);
    return Math.max(0, Math.min(limit, n - skip));
  }

  async estimatedDocumentCount(_options: Document = {}): Promise<number> {
    const coll = this.meta();
    return coll ? (this.engine.counters.get(coll.id)?.count ?? 0) : 0;
  }

  async distinct(key: string, filter: Document = {}, options: OperationOptions = {}): Promise<unknown[]> {
    if (typeof key !== 'string' || key.length === 0) throw new LargetableError('INVALID_ARGUMENT', 'distinct key must be a non-empty string');
    const { getPathValues } = await import('../query/path.ts');
    const out: unknown[] = [];
    const seen = new Map<string, unknown[]>();
    for await (const d of this.find(filter, options)) {
      for (const v of getPathValues(d as Document, key)) {
        const vals = Array.isArray(v) ? (v.length === 0 ? [] : [v]) : [v];
        for (const x of vals) {
          const tk = typeof x + ':' + (typeof x === 'object' ? '' : String(x));
          const bucket = seen.get(tk) ?? [];
          if (bucket.some((y) => valuesEqual(x, y))) continue;
          bucket.push(x);
          seen.set(tk, bucket);
          out.push(x);
        }
      }
    }
    out.sort(compareValues);
    return out;
  }

  // ------------------------------------------------------------------ writes

  private prepareInsert(doc: unknown): PreparedInsert {
    if (!isPlainObject(doc)) throw new LargetableError('INVALID_DOCUMENT', 'document must be an object');
    let stored = doc;
    let newId: ObjectId | undefined;
    if (doc._id === undefined) {
      newId = new ObjectId();
      stored = { _id: newId, ...doc };
    } else if (firstKey(doc) !== '_id') {
      stored = { _id: doc._id, ...doc };
    }
    // a view into a shared buffer when short: held only while the insert is staged and committed,
    // with room before it for the insert's change-log record (written around the document's bytes)
    const room = changeHeaderBytes(this.dbName, this.collectionName);
    // validated while encoded (one walk of the document); whatever that does not plainly accept
    // is validated on its own first (its refusal thrown before the caller's document is touched)
    const reserved = this.reserved;
    let bytes = Array.isArray(stored._id) ? undefined : encodeFastValidated(stored, room, reserved);
    if (bytes === undefined || bytes.length > documentSizeBytesMax) {
      validateDocument(doc);
      bytes = encodeDocumentShared(stored, room, reserved);
    }
    const logRoom = reserved.room;
    if (newId !== undefined) (doc as Document)._id = newId; // the driver sets _id on the caller's document
    if (bytes.length > documentSizeBytesMax) {
      throw new LargetableError('LIMIT_EXCEEDED', `document is ${bytes.length} bytes, over the ${documentSizeBytesMax}-byte limit`, { details: { size: bytes.length } });
    }
    // the document key with its collection left out (staging writes it): the encoded _id is a view of it
    const key = documentKeyOf(0, stored._id, true);
    return { doc: stored, id: stored._id, bytes, encId: key.subarray(documentKeyPrefixBytes), key, logRoom };
  }

  /** @internal stage one insert (duplicate _id -> DUPLICATE_KEY). */
  async stageInsert(scope: WriteScope, coll: CollMeta, p: PreparedInsert): Promise<void> {
    await this.engine.stageInserts(scope, coll, [p], rethrow);
  }

  insertOne(doc: TSchema | Document, options?: OperationOptions): Promise<InsertOneResult> {
    // not an async function, no default options object, no closure over `p` (`then` takes a
    // function bound to it): this runs once per insert, mostly as unoptimized code, where an async function's
    // frame object, registers and await closures cost ~300 bytes of garbage more per call
    let p: PreparedInsert;
    let done: Promise<void>;
    try {
      p = this.prepareInsert(doc);
      const txn = this.txn(options);
      // concurrent callers' inserts are staged and committed together (each still atomic on its
      // own); the promise is the group's, this insert's failure is on `p`
      done = txn ? this.insertInTransaction(p, txn, options) : this.engine.insertOne(this.dbName, this.collectionName, p, durabilityOf(options));
    } catch (err) {
      return Promise.reject(err);
    }
    return done.then(insertOneResult.bind(p));
  }

  private insertInTransaction(p: PreparedInsert, txn: TxnState, options: OperationOptions | undefined): Promise<void> {
    return this.engine.write(async (scope) => {
      const coll = this.engine.ensureCollection(scope, this.dbName, this.collectionName);
      await this.engine.stageInserts(scope, coll, [p], rethrow);
    }, txn, durabilityOf(options));
  }

  async insertMany(docs: (TSchema | Document)[], options: OperationOptions & { ordered?: boolean } = {}): Promise<InsertManyResult> {
    if (!Array.isArray(docs)) throw new LargetableError('INVALID_ARGUMENT', 'insertMany expects an array of documents');
    if (docs.length === 0) throw new LargetableError('INVALID_ARGUMENT', 'Invalid BulkOperation, Batch cannot be empty');
    if (docs.length > writeBatchDocumentsMax) throw new LargetableError('LIMIT_EXCEEDED', `insertMany of ${docs.length} documents exceeds ${writeBatchDocumentsMax}`);
    const ordered = options.ordered !== false;
    const insertedIds: Record<number, unknown> = {};
    const writeErrors: Document[] = [];
    const prepared: (PreparedInsert | undefined)[] = [];
    for (let i = 0; i < docs.length; i++) {
      try {
        prepared.push(this.prepareInsert(docs[i]));
      } catch (err) {
        if (!(err instanceof LargetableError)) throw err;
        prepared.push(undefined);
        writeErrors.push(writeError(i, err));
        if (ordered) break;
      }
    }
    if (writeErrors.length > 0) {
      // invalid documents refuse the whole batch before anything is written
      throw new LargetableBulkWriteError(writeErrors, bulkResult({}));
    }
    let inserted = 0;
    const txn = this.txn(options);
    await this.engine.write(async (scope) => {
      const coll = this.engine.ensureCollection(scope, this.dbName, this.collectionName);
      await this.engine.stageInserts(
        scope,
        coll,
        prepared,
        (i, err) => {
          if (!(err instanceof LargetableError) || txn) throw err;
          writeErrors.push(writeError(i, err));
          return !ordered;
        },
        (i) => {
          insertedIds[i] = prepared[i]!.id;
          inserted++;
        },
      );
    }, txn, durabilityOf(options));
    if (writeErrors.length > 0) {
      writeErrors.sort((a, b) => (a.index as number) - (b.index as number));
      throw new LargetableBulkWriteError(writeErrors, bulkResult({ insertedCount: inserted, insertedIds }));
    }
    return { acknowledged: true, insertedCount: inserted, insertedIds };
  }

  /** @internal matching documents for a write (read from the write scope). */
  private async matchForWrite(scope: WriteScope, coll: CollMeta, filter: Document, opts: { sort?: Document | undefined; one: boolean; hint?: string | Document | undefined; matcher?: Matcher }): Promise<FoundDoc[]> {
    const id = opts.hint === undefined ? idPoint(filter) : undefined;
    if (id !== undefined) {
      // { _id: v }: at most one document, read directly (what the planner's IDHACK plan does)
      const encId = encodeId(id);
      const r = await this.engine.readDocument(scope.overlay, coll.id, encId);
      if (!r || !(opts.matcher ?? compileFilter(filter)).test(r.doc)) return [];
      return [{ doc: r.doc, encId, bytes: r.bytes }];
    }
    const req: FindRequest = { filter, ...(opts.sort ? { sort: opts.sort } : {}), ...(opts.one ? { limit: 1 } : {}), ...(opts.hint ? { hint: opts.hint } : {}) };
    const { plan } = await choosePlan(this.engine, coll, scope.overlay, req);
    const stats: ExecStats = { keysExamined: 0, docsExamined: 0, nReturned: 0 };
    const out: FoundDoc[] = [];
    if (opts.sort && Object.keys(opts.sort).length > 0 && !(plan.stage !== 'IDHACK' && plan.providesSort)) {
      const cmp = compileSort(opts.sort);
      for await (const f of scan(this.engine, coll, scope.overlay, plan, filter, stats)) out.push(f);
      out.sort((a, b) => cmp(a.doc, b.doc));
      return opts.one ? out.slice(0, 1) : out;
    }
    for await (const f of scan(this.engine, coll, scope.overlay, plan, filter, stats)) {
      out.push(f);
      if (opts.one) break;
    }
    return out;
  }

  private async stageUpdate(scope: WriteScope, coll: CollMeta, f: FoundDoc, newDoc: Document, replace: boolean): Promise<Document> {
    if (!valuesEqual(newDoc._id, f.doc._id)) {
      throw new LargetableError('INVALID_ARGUMENT', "Performing an update on the path '_id' would modify the immutable field '_id'", { details: { codeName: 'ImmutableField' } });
    }
    validateDocument(newDoc);
    let stored = newDoc;
    if (firstKey(newDoc) !== '_id') stored = { _id: newDoc._id, ...newDoc };
    const bytes = encodeDocument(stored);
    if (bytes.length > documentSizeBytesMax) throw new LargetableError('LIMIT_EXCEEDED', `document is ${bytes.length} bytes, over the ${documentSizeBytesMax}-byte limit`);
    if (this.engine.syncStaging(coll)) this.engine.stageDocumentSync(scope, coll, f.doc._id, f.encId, f.doc, f.bytes, stored, bytes);
    else await this.engine.stageDocument(scope, coll, f.doc._id, f.encId, f.doc, f.bytes, stored, bytes);
    if (replace) scope.addEvent({ op: 'replace', db: coll.db, coll: coll.name, id: f.doc._id, fullDocument: stored, fullDocumentBytes: bytes });
    else scope.addEvent({ op: 'update', db: coll.db, coll: coll.name, id: f.doc._id, updateDescription: describeUpdate(f.doc, stored), postImage: stored });
    return stored;
  }

  private async upsertInsert(scope: WriteScope, coll: CollMeta, filter: Document, update: Document | Document[], replace: boolean, arrayFilters?: Document[]): Promise<Document> {
    let doc: Document;
    const seed = upsertSeed(filter);
    if (replace) {
      doc = { ...(update as Document) };
      if (doc._id === undefined && seed._id !== undefined) doc = { _id: seed._id, ...doc };
    } else {
      doc = applyUpdate(seed, update, { isUpsertInsert: true, query: filter, ...(arrayFilters ? { arrayFilters } : {}) }).doc;
    }
    const p = this.prepareInsert(doc);
    await this.stageInsert(scope, coll, p);
    return p.doc;
  }

  private async updateImpl(
    filter: Document,
    update: Document | Document[],
    options: OperationOptions & { upsert?: boolean; arrayFilters?: Document[]; sort?: unknown; hint?: string | Document },
    many: boolean,
    replace: boolean,
  ): Promise<UpdateResult> {
    const f = checkFilter(filter);
    const matcher = writeMatcher(f);
    checkUpdate(update, replace);
    const sort = normalizeSort(options.sort);
    return this.engine.write(async (scope) => {
      const coll = this.engine.collection(this.dbName, this.collectionName) ?? (options.upsert ? this.engine.ensureCollection(scope, this.dbName, this.collectionName) : undefined);
      if (!coll) return { acknowledged: true, matchedCount: 0, modifiedCount: 0, upsertedCount: 0, upsertedId: null };
      const found = await this.matchForWrite(scope, coll, f, { sort, one: !many, hint: options.hint, matcher });
      if (found.length === 0 && options.upsert) {
        const doc = await this.upsertInsert(scope, coll, f, update, replace, options.arrayFilters);
        return { acknowledged: true, matchedCount: 0, modifiedCount: 0, upsertedCount: 1, upsertedId: doc._id };
      }
      let modified = 0;
      const now = new Date();
      for (const fd of found) {
        let next: Document;
        if (replace) {
          next = { _id: fd.doc._id, ...(update as Document) };
          if ((update as Document)._id !== undefined) next._id = (update as Document)._id;
          modified++;
        } else {
          const r = applyUpdate(fd.doc, update, { isUpsertInsert: false, query: f, now, ...(options.arrayFilters ? { arrayFilters: options.arrayFilters } : {}) });
          if (!r.modified) continue;
          next = r.doc;
          modified++;
        }
        await this.stageUpdate(scope, coll, fd, next, replace);
      }
      return { acknowledged: true, matchedCount: found.length, modifiedCount: modified, upsertedCount: 0, upsertedId: null };
    }, this.txn(options), durabilityOf(options));
  }

  updateOne(filter: Document, update: Document | Document[], options: OperationOptions & { upsert?: boolean; arrayFilters?: Document[]; sort?: unknown; hint?: string | Document } = {}): Promise<UpdateResult> {
    return this.updateImpl(filter, update, options, false, false);
  }

  updateMany(filter: Document, update: Document | Document[], options: OperationOptions & { upsert?: boolean; arrayFilters?: Document[]; hint?: string | Document } = {}): Promise<UpdateResult> {
    return this.updateImpl(filter, update, options, true, false);
  }

  replaceOne(filter: Document, replacement: Document, options: OperationOptions & { upsert?: boolean; sort?: unknown; hint?: string | Document } = {}): Promise<UpdateResult> {
    return this.updateImpl(filter, replacement, options, false, true);
  }

  private async deleteImpl(filter: Document, options: OperationOptions & { hint?: string | Document }, many: boolean): Promise<DeleteResult> {
    const f = checkFilter(filter);
    const matcher = writeMatcher(f);
    return this.engine.write(async (scope) => {
      const coll = this.engine.collection(this.dbName, this.collectionName);
      if (!coll) return { acknowledged: true, deletedCount: 0 };
      const found = await this.matchForWrite(scope, coll, f, { one: !many, hint: options.hint, matcher });
      for (const fd of found) this.stageDelete(scope, coll, fd);
      // a delete puts no index entry, so it never needs a unique check (no await)
      for (const fd of found) this.engine.stageDocumentSync(scope, coll, fd.doc._id, fd.encId, fd.doc, fd.bytes, undefined, undefined);
      return { acknowledged: true, deletedCount: found.length };
    }, this.txn(options), durabilityOf(options));
  }

  private stageDelete(scope: WriteScope, coll: CollMeta, fd: FoundDoc): void {
    scope.addEvent({ op: 'delete', db: coll.db, coll: coll.name, id: fd.doc._id });
  }

  deleteOne(filter: Document = {}, options: OperationOptions & { hint?: string | Document } = {}): Promise<DeleteResult> {
    return this.deleteImpl(filter, options, false);
  }

  deleteMany(filter: Document = {}, options: OperationOptions & { hint?: string | Document } = {}): Promise<DeleteResult> {
    return this.deleteImpl(filter, options, true);
  }

  private async findAndModify(
    filter: Document,
    kind: 'update' | 'replace' | 'delete',
    update: Document | Document[] | undefined,
    options: OperationOptions & { returnDocument?: 'before' | 'after'; returnOriginal?: boolean; projection?: Document; sort?: unknown; upsert?: boolean; arrayFilters?: Document[]; includeResultMetadata?: boolean },
  ): Promise<Document | null> {
    const f = checkFilter(filter);
    const matcher = writeMatcher(f);
    if (kind !== 'delete') checkUpdate(update!, kind === 'replace');
    const sort = normalizeSort(options.sort);
    const project = options.projection ? compileProjection(options.projection) : undefined;
    const after = options.returnDocument === 'after' || options.returnOriginal === false;
    const result = await this.engine.write(async (scope) => {
      const coll = this.engine.collection(this.dbName, this.collectionName) ?? (options.upsert ? this.engine.ensureCollection(scope, this.dbName, this.collectionName) : undefined);
      if (!coll) return { value: null as Document | null, lastErrorObject: { n: 0, updatedExisting: false } };
      const found = await this.matchForWrite(scope, coll, f, { sort, one: true, matcher });
      const fd = found[0];
      if (!fd) {
        if (kind !== 'delete' && options.upsert) {
          const doc = await this.upsertInsert(scope, coll, f, update!, kind === 'replace', options.arrayFilters);
          return { value: after ? doc : null, lastErrorObject: { n: 1, updatedExisting: false, upserted: doc._id } };
        }
        return { value: null, lastErrorObject: { n: 0, updatedExisting: false } };
      }
      if (kind === 'delete') {
        this.stageDelete(scope, coll, fd);
        this.engine.stageDocumentSync(scope, coll, fd.doc._id, fd.encId, fd.doc, fd.bytes, undefined, undefined);
        return { value: fd.doc, lastErrorObject: { n: 1 } };
      }
      let next: Document;
      if (kind === 'replace') {
        next = { _id: fd.doc._id, ...(update as Document) };
        if ((update as Document)._id !== undefined) next._id = (update as Document)._id;
      } else {
        const r = applyUpdate(fd.doc, update!, { isUpsertInsert: false, query: f, ...(options.arrayFilters ? { arrayFilters: options.arrayFilters } : {}) });
        if (!r.modified) return { value: fd.doc, lastErrorObject: { n: 1, updatedExisting: true } };
        next = r.doc;
      }
      const stored = await this.stageUpdate(scope, coll, fd, next, kind === 'replace');
      return { value: after ? stored : fd.doc, lastErrorObject: { n: 1, updatedExisting: true } };
    }, this.txn(options), durabilityOf(options));
    const value = result.value && project ? project(result.value) : result.value;
    if (options.includeResultMetadata) return { value, lastErrorObject: result.lastErrorObject, ok: 1 };
    return value;
  }

  findOneAndUpdate(filter: Document, update: Document | Document[], options: Parameters<Collection['findAndModify']>[3] = {}): Promise<Document | null> {
    return this.findAndModify(filter, 'update', update, options);
  }

  findOneAndReplace(filter: Document, replacement: Document, options: Parameters<Collection['findAndModify']>[3] = {}): Promise<Document | null> {
    return this.findAndModify(filter, 'replace', replacement, options);
  }

  findOneAndDelete(filter: Document, options: Parameters<Collection['findAndModify']>[3] = {}): Promise<Document | null> {
    return this.findAndModify(filter, 'delete', undefined, options);
  }

  async bulkWrite(operations: Document[], options: OperationOptions & { ordered?: boolean } = {}): Promise<Document> {
    if (!Array.isArray(operations) || operations.length === 0) throw new LargetableError('INVALID_ARGUMENT', 'Invalid BulkOperation, Batch cannot be empty');
    if (operations.length > writeBatchDocumentsMax) throw new LargetableError('LIMIT_EXCEEDED', `bulkWrite of ${operations.length} operations exceeds ${writeBatchDocumentsMax}`);
    const ordered = options.ordered !== false;
    const res = { acknowledged: true, insertedCount: 0, matchedCount: 0, modifiedCount: 0, deletedCount: 0, upsertedCount: 0, insertedIds: {} as Record<number, unknown>, upsertedIds: {} as Record<number, unknown> };
    const writeErrors: Document[] = [];
    const txn = this.txn(options);
    // Each operation is applied in its own write, in order (as MongoDB: not atomic across operations).
    for (let i = 0; i < operations.length; i++) {
      const op = operations[i]!;
      try {
        if (!isPlainObject(op) || Object.keys(op).length !== 1) throw new LargetableError('INVALID_ARGUMENT', 'each bulkWrite operation must have exactly one key');
        const [name, a] = Object.entries(op)[0]! as [string, Document];
        if (!isPlainObject(a)) throw new LargetableError('INVALID_ARGUMENT', `bulkWrite ${name} needs a document`);
        const o = { ...(txn ? { session: options.session } : {}) };
        switch (name) {
          case 'insertOne': {
            const r = await this.insertOne(a.document as Document, o);
            res.insertedCount++;
            res.insertedIds[i] = r.insertedId;
            break;
          }
          case 'updateOne':
          case 'updateMany':
          case 'replaceOne': {
            const opts = { ...o, ...(a.upsert ? { upsert: true } : {}), ...(a.arrayFilters ? { arrayFilters: a.arrayFilters as Document[] } : {}), ...(a.hint ? { hint: a.hint as string } : {}) };
            const r =
              name === 'replaceOne'
                ? await this.replaceOne(a.filter as Document, a.replacement as Document, opts)
                : name === 'updateOne'
                  ? await this.updateOne(a.filter as Document, a.update as Document, opts)
                  : await this.updateMany(a.filter as Document, a.update as Document, opts);
            res.matchedCount += r.matchedCount;
            res.modifiedCount += r.modifiedCount;
            if (r.upsertedCount) {
              res.upsertedCount++;
              res.upsertedIds[i] = r.upsertedId;
            }
            break;
          }
          case 'deleteOne':
          case 'deleteMany': {
            const r = name === 'deleteOne' ? await this.deleteOne(a.filter as Document, o) : await this.deleteMany(a.filter as Document, o);
            res.deletedCount += r.deletedCount;
            break;
          }
          default:
            throw new LargetableError('INVALID_ARGUMENT', `unknown bulkWrite operation ${name}`);
        }
      } catch (err) {
        if (!(err instanceof LargetableError) || txn) throw err;
        writeErrors.push(writeError(i, err));
        if (ordered) break;
      }
    }
    if (writeErrors.length > 0) {
      throw new LargetableBulkWriteError(writeErrors, res);
    }
    return res;
  }

  // ------------------------------------------------------------------ indexes

  async createIndex(keys: Document | string, options: Document = {}): Promise<string> {
    const key = typeof keys === 'string' ? { [keys]: 1 } : keys;
    if (!isPlainObject(key) || Object.keys(key).length === 0) throw new LargetableError('INVALID_ARGUMENT', 'index key must be a non-empty document');
    if (!isPlainObject(options)) throw new LargetableError('INVALID_ARGUMENT', 'index options must be a document');
    const kind = pluginKindOf(key);
    for (const [k, v] of Object.entries(key)) {
      if (k.length === 0 || k.startsWith('$') || k.split('.').some((p) => p.length === 0)) throw new LargetableError('INVALID_ARGUMENT', `bad index key field: ${JSON.stringify(k)}`);
      if (typeof v === 'string') {
        if (kind === undefined || !indexKindFactory(v)) throw new LargetableError('NOT_SUPPORTED', `index kind '${v}' is not supported`);
      } else if (!(v === 1 || v === -1)) throw new LargetableError('INVALID_ARGUMENT', `bad index key value for ${k}: ${String(v)} (use 1 or -1)`);
    }
    const name = typeof options.name === 'string' && options.name.length > 0 ? options.name : Object.entries(key).map(([k, v]) => `${k}_${v}`).join('_');
    if (name === '_id_' || (Object.keys(key).length === 1 && '_id' in key && key._id === 1)) return '_id_';
    const spec: IndexMeta = { id: 0, name, key: { ...key } };
    if (options.unique) spec.unique = true;
    if (options.sparse) spec.sparse = true;
    if (options.partialFilterExpression !== undefined) {
      if (!isPlainObject(options.partialFilterExpression)) throw new LargetableError('INVALID_ARGUMENT', 'partialFilterExpression must be a document');
      compileFilter(options.partialFilterExpression);
      spec.partialFilterExpression = options.partialFilterExpression;
    }
    if (options.expireAfterSeconds !== undefined) {
      const e = options.expireAfterSeconds;
      if (typeof e !== 'number' || !Number.isFinite(e) || e < 0 || Object.keys(key).length !== 1) throw new LargetableError('INVALID_ARGUMENT', 'expireAfterSeconds must be a non-negative number on a single-field index');
      spec.expireAfterSeconds = e;
    }
    if (kind) {
      spec.kind = kind;
      const rest: Document = {};
      for (const [k, v] of Object.entries(options)) if (k !== 'name') rest[k] = v;
      spec.options = rest;
    }
    return this.engine.createIndex(this.dbName, this.collectionName, spec);
  }

  async createIndexes(specs: Document[], _options: Document = {}): Promise<string[]> {
    const out: string[] = [];
    for (const s of specs) {
      const { key, ...rest } = s;
      out.push(await this.createIndex(key as Document, rest));
    }
    return out;
  }

  async dropIndex(nameOrKey: string | Document, _options: Document = {}): Promise<Document> {
    let name = nameOrKey;
    if (typeof nameOrKey !== 'string') {
      const m = this.meta()?.indexes.find((i) => JSON.stringify(i.key) === JSON.stringify(nameOrKey));
      if (!m) throw new LargetableError('NOT_FOUND', `can't find index with key: ${JSON.stringify(nameOrKey)}`, { details: { codeName: 'IndexNotFound' } });
      name = m.name;
    }
    await this.engine.dropIndex(this.dbName, this.collectionName, name as string);
    return { ok: 1 };
  }

  async dropIndexes(_options: Document = {}): Promise<boolean> {
    const m = this.meta();
    if (!m) return true;
    for (const ix of [...m.indexes]) await this.engine.dropIndex(this.dbName, this.collectionName, ix.name);
    return true;
  }

  /** @internal */
  indexSpecs(): Document[] {
    const m = this.meta();
    if (!m) return [];
    const out: Document[] = [{ v: 2, key: { _id: 1 }, name: '_id_' }];
    for (const ix of m.indexes) {
      const d: Document = { v: 2, key: ix.key, name: ix.name };
      if (ix.unique) d.unique = true;
      if (ix.sparse) d.sparse = true;
      if (ix.partialFilterExpression) d.partialFilterExpression = ix.partialFilterExpression;
      if (ix.expireAfterSeconds !== undefined) d.expireAfterSeconds = ix.expireAfterSeconds;
      if (ix.options) Object.assign(d, ix.options);
      out.push(d);
    }
    return out;
  }

  listIndexes(_options: Document = {}): ListIndexesCursor {
    this.engine.checkOpen();
    return new ListIndexesCursor(this as unknown as Collection);
  }

  async indexes(_options: Document = {}): Promise<Document[]> {
    return this.indexSpecs();
  }

  async indexExists(names: string | string[]): Promise<boolean> {
    const have = new Set(this.indexSpecs().map((d) => d.name as string));
    return (Array.isArray(names) ? names : [names]).every((n) => have.has(n));
  }

  async indexInformation(_options: Document = {}): Promise<Document> {
    const out: Document = {};
    for (const d of this.indexSpecs()) out[d.name as string] = Object.entries(d.key as Document);
    return out;
  }

  // ------------------------------------------------------------------ collection-level

  async drop(_options: Document = {}): Promise<boolean> {
    return this.engine.dropCollection(this.dbName, this.collectionName);
  }

  async rename(newName: string, options: { dropTarget?: boolean } = {}): Promise<Collection> {
    await this.engine.renameCollection(this.dbName, this.collectionName, this.dbName, newName, !!options.dropTarget);
    return this.client.collection(this.dbName, newName);
  }

  async stats(): Promise<Document> {
    const m = this.meta();
    const c = m ? (this.engine.counters.get(m.id) ?? { count: 0, bytes: 0 }) : { count: 0, bytes: 0 };
    const indexSizes: Document = {};
    const pluginStats: Document = {};
    if (m) {
      for (const ix of this.engine.indexes(m.id)) {
        if (ix.plugin) pluginStats[ix.meta.name] = ix.plugin.stats();
      }
    }
    return {
      ns: this.namespace,
      count: c.count,
      size: c.bytes,
      avgObjSize: c.count > 0 ? Math.round(c.bytes / c.count) : 0,
      storageSize: c.bytes,
      nindexes: m ? m.indexes.length + 1 : 0,
      indexNames: this.indexSpecs().map((d) => d.name),
      indexSizes,
      ...(Object.keys(pluginStats).length ? { indexDetails: pluginStats } : {}),
      capped: false,
      ok: 1,
    };
  }

  aggregate<T = Document>(pipeline: Document[] = [], options: Document = {}): AggregationCursor<T> {
    this.engine.checkOpen();
    if (!this.client.aggregate) throw new LargetableError('NOT_SUPPORTED', 'aggregation is not available');
    return this.client.aggregate(this as unknown as Collection, pipeline, options) as unknown as AggregationCursor<T>;
  }

  watch<T = Document>(pipeline: Document[] = [], options: Document = {}): ChangeStream<T> {
    this.engine.checkOpen();
    if (!this.client.watchCollection) throw new LargetableError('NOT_SUPPORTED', 'change streams are not available');
    return this.client.watchCollection(this as unknown as Collection, this.dbName, pipeline, options) as unknown as ChangeStream<T>;
  }

  /**
   * Vector search through a plugin index (the vector engineer's plugin provides `search`).
   * Options: { k | limit, index?, path?, filter?, numCandidates, efSearch, nprobe, exact, projection, includeScore }.
   * includeScore: false leaves `score` out of the hits.
   * A `filter` is answered by the planner first; its matching _ids are the plugin's `candidates`.
   * Returns [{ _id, score, document }] best first.
   */
  async vectorSearch(vector: ArrayLike<number>, options: Document = {}): Promise<Document[]> {
    const { plugin, name } = this.findVectorPlugin(options.index as string | undefined, options.path as string | undefined);
    const search = (plugin as unknown as { search?: (v: ArrayLike<number>, o: Document) => Promise<Document[]> }).search;
    if (typeof search !== 'function') throw new LargetableError('NOT_SUPPORTED', `index ${name} does not support search`);
    const o = await this.vectorOptions(options);
    return this.hydrateVectorHits(await search.call(plugin, vector, o), options);
  }

  /**
   * The plan vectorSearch(vector, options) runs, without returning hits: `vectorSearch` is the
   * plugin's plan (index, kind, strategy, candidates, efSearch/nprobe, k) and `filter` the
   * planner's explain of options.filter (how the candidate ids are found).
   */
  async explainVectorSearch(vector: ArrayLike<number>, options: Document = {}): Promise<Document> {
    const { plugin, name } = this.findVectorPlugin(options.index as string | undefined, options.path as string | undefined);
    const explain = (plugin as unknown as { explain?: (v: ArrayLike<number>, o: Document) => Document }).explain;
    if (typeof explain !== 'function') throw new LargetableError('NOT_SUPPORTED', `index ${name} does not explain searches`);
    const o = await this.vectorOptions(options);
    const out: Document = { vectorSearch: { ...explain.call(plugin, vector, o) } };
    if (options.filter !== undefined) out.filter = await this.explainFind({ filter: options.filter as Document, projection: { _id: 1 } }, 'queryPlanner');
    return out;
  }

  async vectorSearchMany(vectors: ArrayLike<number>[], options: Document = {}): Promise<Document[][]> {
    const { plugin, name } = this.findVectorPlugin(options.index as string | undefined, options.path as string | undefined);
    const p = plugin as unknown as { search?: (v: ArrayLike<number>, o: Document) => Promise<Document[]>; searchMany?: (v: ArrayLike<number>[], o: Document) => Promise<Document[][]> };
    const o = await this.vectorOptions(options);
    if (typeof p.searchMany === 'function') {
      const res = await p.searchMany.call(plugin, vectors, o);
      return Promise.all(res.map((r) => this.hydrateVectorHits(r, options)));
    }
    if (typeof p.search !== 'function') throw new LargetableError('NOT_SUPPORTED', `index ${name} does not support search`);
    const out: Document[][] = [];
    for (const v of vectors) out.push(await this.hydrateVectorHits(await p.search.call(plugin, v, o), options));
    return out;
  }

  private async vectorOptions(options: Document): Promise<Document> {
    const o: Document = {};
    for (const [k, v] of Object.entries(options)) if (!['filter', 'projection', 'index', 'path', 'queryVector', 'limit'].includes(k)) o[k] = v;
    if (options.k === undefined && options.limit !== undefined) o.k = options.limit;
    // approximate-score indexes re-rank their candidates exactly from the documents' vectors
    const coll = this.meta();
    if (coll) o.fetch = async (id: unknown) => (await this.engine.readDocument(this.engine.live, coll.id, encodeId(id)))?.doc;
    if (options.filter !== undefined) {
      if (!isPlainObject(options.filter)) throw new LargetableError('BAD_QUERY', 'vector search filter must be a document');
      o.candidates = await this.vectorCandidates(options.filter);
    }
    return o;
  }

  /**
   * The _ids matching a vector search filter. The { _id: 1 } projection is covered when the filter
   * is answered by a plain secondary index (the _id trails each index entry): no document is read.
   */
  private async vectorCandidates(filter: Document): Promise<unknown[]> {
    const ids: unknown[] = [];
    for await (const d of this.find(filter, { projection: { _id: 1 } })) ids.push((d as Document)._id);
    return ids;
  }

  /** Plugin hits are {_id|id, score}; attach documents (projection applied). */
  private async hydrateVectorHits(hits: Document[], options: Document): Promise<Document[]> {
    const coll = this.meta();
    if (!coll) return [];
    const project = isPlainObject(options.projection) ? compileProjection(options.projection) : undefined;
    if (options.includeScore !== undefined && typeof options.includeScore !== 'boolean') throw new LargetableError('INVALID_ARGUMENT', 'includeScore must be a boolean');
    const withScore = options.includeScore !== false;
    const out: Document[] = [];
    for (const h of hits) {
      const id = h._id !== undefined ? h._id : h.id;
      const doc = isPlainObject(h.document) ? (h.document as Document) : (await this.engine.readDocument(this.engine.live, coll.id, encodeId(id)))?.doc;
      if (!doc) continue;
      const document = project ? project(doc) : doc;
      out.push(withScore ? { _id: id, score: h.score, document } : { _id: id, document });
    }
    return out;
  }

  private findVectorPlugin(name?: string, path?: string): { plugin: IndexPlugin; name: string } {
    const m = this.meta();
    if (!m) throw new LargetableError('NOT_FOUND', `collection ${this.namespace} does not exist`);
    for (const ix of this.engine.indexes(m.id)) {
      if (!ix.plugin) continue;
      if (name !== undefined && ix.meta.name !== name) continue;
      if (name === undefined && path !== undefined && !(path in ix.meta.key)) continue;
      return { plugin: ix.plugin, name: ix.meta.name };
    }
    throw new LargetableError('NOT_FOUND', name ? `vector index ${name} not found on ${this.namespace}` : `no vector index on ${this.namespace}`);
  }
}

/** The plugin instance behind index `name` of `collection` (for plugin-specific methods such as search). */
export function getIndexPlugin(collection: Collection, name: string): IndexPlugin | undefined {
  const m = collection.meta();
  if (!m) return undefined;
  return collection.client.engine.indexes(m.id).find((i) => i.meta.name === name)?.plugin;
}

/** True when `o` has exactly one own enumerable key, `k`. */
function onlyKey(o: Document, k: string): boolean {
  let n = 0;
  for (const x in o) {
    if (x !== k || !Object.prototype.hasOwnProperty.call(o, x)) return false;
    n++;
  }
  return n === 1;
}

function isPointId(v: unknown): boolean {
  if (v === null || v === undefined) return false;
  const t = typeof v;
  if (t === 'string' || t === 'number' || t === 'boolean') return true;
  if (v instanceof Date) return true;
  return t === 'object' && (v as { _bsontype?: string })._bsontype === 'ObjectId';
}

function writeError(index: number, err: LargetableError): Document {
  const m = mongoCodeOf[err.code] ?? { code: 2, codeName: 'BadValue' };
  return { index, code: m.code, codeName: m.codeName, errCode: err.code, errmsg: err.message, details: err.details, errInfo: err.details };
}

/**
 * A failed insertMany/bulkWrite, shaped like the driver's MongoBulkWriteError: `writeErrors`
 * (each with MongoDB's numeric `code`), `result`, `insertedIds`, `insertedCount` and
 * `errorResponse` at top level. `code` stays the Largetable code of the first write error
 * (e.g. 'DUPLICATE_KEY'); MongoDB's numeric code is `errorResponse.code` (docs/COMPATIBILITY.md).
 */
export class LargetableBulkWriteError extends LargetableError {
  readonly writeErrors: Document[];
  readonly result: Document;
  readonly insertedIds: Record<number, unknown>;
  readonly insertedCount: number;
  readonly errorResponse: { ok: 0; code: number; codeName: string; errmsg: string; writeErrors: Document[] };
  constructor(writeErrors: Document[], result: Document) {
    const first = writeErrors[0]!;
    super(first.errCode as LargetableError['code'], first.errmsg as string, { details: { ...((first.details as Document) ?? {}), writeErrors, insertedCount: result.insertedCount, insertedIds: result.insertedIds, result } });
    this.writeErrors = writeErrors;
    this.result = result;
    this.insertedIds = result.insertedIds as Record<number, unknown>;
    this.insertedCount = result.insertedCount as number;
    this.errorResponse = { ok: 0, code: first.code as number, codeName: first.codeName as string, errmsg: first.errmsg as string, writeErrors };
  }
}

/** The `_id` of a filter that is exactly `{ _id: v }` with v a string, number, ObjectId or Date. */
function idPoint(filter: Document): unknown {
  let id: unknown;
  let n = 0;
  for (const k in filter) {
    if (k !== '_id' || ++n > 1) return undefined;
    id = filter[k];
  }
  if (typeof id === 'string' || (typeof id === 'number' && !Number.isNaN(id)) || id instanceof Date) return id;
  if (id instanceof ObjectId) return id;
  return undefined;
}

/**
 * The matcher of a write's filter. `{ _id: v }` with v a string, ObjectId or Date is only ever
 * tested on the document stored under enc(v) (matchForWrite reads it directly), whose `_id` then
 * has v's type and value: a type-and-value comparison is the whole test, no filter compiled.
 */
function writeMatcher(f: Document): Matcher {
  const id = idPoint(f);
  if (typeof id === 'string' || id instanceof Date || id instanceof ObjectId) return new IdMatcher(id);
  return compileFilter(f);
}

class IdMatcher implements Matcher {
  private readonly id: string | Date | ObjectId;
  constructor(id: string | Date | ObjectId) {
    this.id = id;
  }
  test(d: Document): boolean {
    const id = this.id;
    const v = d._id;
    if (typeof id === 'string') return v === id;
    if (id instanceof Date) return v instanceof Date && v.getTime() === id.getTime();
    return v instanceof ObjectId && v.equals(id);
  }
}

function rethrow(_i: number, err: unknown): boolean {
  throw err;
}

/** insertOne's answer once its insert settled (`this`, bound by insertOne): the failure it holds (see Engine.insertOne) thrown, else the driver's result. */
function insertOneResult(this: PreparedInsert): InsertOneResult {
  if (this.error !== undefined) throw this.error;
  return { acknowledged: true, insertedId: this.id };
}

/** The first own enumerable key of a plain object (no keys array built). */
function firstKey(o: Document): string | undefined {
  for (const k in o) return k;
  return undefined;
}

function bulkResult(partial: Partial<Record<string, unknown>>): Document {
  return { acknowledged: true, insertedCount: 0, insertedIds: {}, matchedCount: 0, modifiedCount: 0, deletedCount: 0, upsertedCount: 0, upsertedIds: {}, ...partial };
}

function checkUpdate(update: unknown, replace: boolean): void {
  if (Array.isArray(update)) {
    if (replace) throw new LargetableError('INVALID_ARGUMENT', 'replacement must be a document');
    return;
  }
  if (!isPlainObject(update)) throw new LargetableError('INVALID_ARGUMENT', 'update must be a document or a pipeline');
  if (replace) {
    if (!isReplacement(update) || Object.keys(update).some((k) => k.startsWith('$'))) throw new LargetableError('INVALID_ARGUMENT', 'Replacement document must not contain atomic operators');
  } else {
    const keys = Object.keys(update);
    if (keys.length === 0) throw new LargetableError('INVALID_ARGUMENT', 'Update document requires atomic operators');
    if (!keys.every((k) => k.startsWith('$'))) throw new LargetableError('INVALID_ARGUMENT', 'Update document requires atomic operators');
  }
}

/** Top-level diff for change events' updateDescription. */
export function describeUpdate(before: Document, after: Document): Document {
  const updatedFields: Document = {};
  const removedFields: string[] = [];
  for (const k of Object.keys(after)) {
    if (!(k in before) || (before[k] !== after[k] && !sameBson(before[k], after[k]))) updatedFields[k] = cloneValue(after[k]);
  }
  for (const k of Object.keys(before)) if (!(k in after)) removedFields.push(k);
  return { updatedFields, removedFields, truncatedArrays: [] };
}

function sameBson(a: unknown, b: unknown): boolean {
  return compareValues(a, b) === 0 && typeof a === typeof b;
}
