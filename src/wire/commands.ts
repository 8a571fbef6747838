/**
 * MongoDB command dispatch over a driver-shaped client (runtime-free).
 *
 * `WireServer` is shared by all connections of one listener: it owns the cursor registry
 * (getMore may arrive on any pooled connection) and the op counters. `run(command, conn)`
 * never throws: every failure becomes the driver's error shape `{ ok: 0, code, codeName, errmsg }`;
 * write commands report per-statement failures as `writeErrors` with `ok: 1`, as mongod does.
 */
import { BSON, Long } from 'bson';
import { encodeExhaustedCursorReply, opMsgBodyOffset } from './codec.ts';
import { isLargetableError, mongoCodeOf } from '../errors.ts';
import {
  cursorBatchSizeDefault, documentSizeBytesMax, wireMessageBytesMax, writeBatchDocumentsMax,
  wireCursorsOpenMax, wireCursorIdleMsMax, replyBatchBytesMax, changeStreamAwaitMsDefault, changeStreamAwaitMsMax,
  wireConnectionsMax, slowQueryMsDefault, wireSessionTimeoutMinutes, wireHandlesCachedMax,
} from '../limits.ts';
import type { ChangeStreamLike, ClientLike, CollectionLike, CursorLike, Doc } from '../server/engine.ts';
import { dropCollection, findAndModifyResult, listDatabases } from '../server/engine.ts';
import { validateCollectionName, validateDbName } from '../server/names.ts';
import type { Metrics } from '../server/metrics.ts';
import type { Logger } from '../server/log.ts';
import { silentLogger } from '../server/log.ts';

export interface Connection {
  id: number;
  remote: string;
}

interface OpenCursor {
  cursor: CursorLike;
  ns: string;
  lastUsed: number;
  /** A document read ahead to learn whether the cursor is exhausted. */
  peeked: Doc | null | undefined;
  /** Set for a change stream ($changeStream aggregate): a tailable cursor. */
  stream?: ChangeStreamCursor;
}

interface ChangeStreamCursor {
  stream: ChangeStreamLike;
  /** A next() still running when the last getMore timed out (its event belongs to the next batch). */
  pending: Promise<Doc | null> | undefined;
  token: unknown;
}


/**
 * A reply that is already BSON (the find fast path splices stored documents into it). The socket
 * glue frames it as is; `WireServer.run` decodes it for in-process callers.
 */
export class EncodedReply {
  readonly bson: Uint8Array;
  /**
   * Optional: a buffer holding `bson` from `opMsgBodyOffset` on with the bytes before it free, so
   * that the socket glue frames the OP_MSG reply in place (`frameOpMsg`) instead of copying.
   */
  readonly opMsgFrame: Uint8Array | undefined;
  constructor(bson: Uint8Array, opMsgFrame?: Uint8Array) {
    this.bson = bson;
    this.opMsgFrame = opMsgFrame;
  }
}

/** Command fields a point read by `_id` may carry and still take the fast path (others: the general path). */
const pointFindFields = new Set(['find', 'filter', 'limit', 'singleBatch', 'batchSize', '$db', 'lsid', '$clusterTime', '$readPreference', 'maxTimeMS', 'comment']);

/**
 * `{ find, filter: { _id: v } }` with nothing that could change its answer beyond "that one
 * document or none": no sort/projection/skip/hint/collation/transaction fields, batchSize not 0.
 * Returns the wrapped `_id` value, or undefined.
 */
function pointFindId(c: Doc): { id: unknown } | undefined {
  for (const k in c) if (!pointFindFields.has(k)) return undefined;
  const f = c['filter'];
  if (f === null || typeof f !== 'object' || Array.isArray(f)) return undefined;
  let id: unknown;
  let n = 0;
  for (const k in f) {
    if (k !== '_id' || ++n > 1) return undefined;
    id = (f as Doc)[k];
  }
  if (n !== 1) return undefined;
  const batchSize = c['batchSize'];
  if (batchSize !== undefined && (typeof batchSize !== 'number' || batchSize <= 0)) return undefined;
  const limit = c['limit'];
  if (limit !== undefined && typeof limit !== 'number') return undefined;
  return { id };
}

/** A command failure with a MongoDB code. */
export class CommandError extends Error {
  readonly code: number;
  readonly codeName: string;
  constructor(code: number, codeName: string, message: string) {
    super(message);
    this.code = code;
    this.codeName = codeName;
  }
}

/** `{ ok: 0, code, codeName, errmsg }` for any thrown value. */
export function errorReply(err: unknown): Doc {
  if (err instanceof CommandError) return { ok: 0, errmsg: err.message, code: err.code, codeName: err.codeName };
  if (isLargetableError(err)) {
    const m = mongoCodeOf[err.code] ?? { code: 1, codeName: 'InternalError' };
    const extra: Doc = {};
    if (err.code === 'DUPLICATE_KEY') {
      const kp = err.details['keyPattern'];
      const kv = err.details['keyValue'];
      if (kp) extra['keyPattern'] = kp;
      if (kv) extra['keyValue'] = kv;
    }
    return { ok: 0, errmsg: err.message, code: m.code, codeName: m.codeName, ...extra };
  }
  if (err && typeof err === 'object' && 'name' in err && String((err as Error).name).startsWith('BSON')) {
    return { ok: 0, errmsg: (err as Error).message, code: 22, codeName: 'InvalidBSON' };
  }
  return { ok: 0, errmsg: err instanceof Error ? err.message : String(err), code: 1, codeName: 'InternalError' };
}

function writeError(index: number, err: unknown): Doc {
  const r = errorReply(err);
  const e: Doc = { index, code: r['code'], errmsg: r['errmsg'] };
  if (r['keyPattern']) e['keyPattern'] = r['keyPattern'];
  if (r['keyValue']) e['keyValue'] = r['keyValue'];
  return e;
}

function bad(message: string): never {
  throw new CommandError(2, 'BadValue', message);
}

function typeMismatch(message: string): never {
  throw new CommandError(14, 'TypeMismatch', message);
}

function docArg(v: unknown, what: string): Doc {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) typeMismatch(`${what} must be an object`);
  return v as Doc;
}

function optDoc(v: unknown, what: string): Doc | undefined {
  return v === undefined || v === null ? undefined : docArg(v, what);
}

function arrayArg(v: unknown, what: string): unknown[] {
  if (!Array.isArray(v)) typeMismatch(`${what} must be an array`);
  return v;
}

function num(v: unknown, what: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (v instanceof Long) return v.toNumber();
  return typeMismatch(`${what} must be a number`);
}

function isUpdateOperators(u: unknown): boolean {
  if (Array.isArray(u)) return true;
  const keys = Object.keys(u as Doc);
  return keys.length > 0 && keys[0]!.startsWith('$');
}

const version = '7.0.0';

export interface WireServerOptions {
  client: ClientLike;
  logger?: Logger;
  metrics?: Metrics;
  slowQueryMs?: number;
  /** Largetable's version, reported in buildInfo and serverStatus. */
  largetableVersion?: string;
  now?: () => number;
  /** Facts about the machine, from the platform (src/ cannot ask the runtime). */
  host?: HostFacts;
}

/** What hostInfo, serverStatus and getCmdLineOpts report; the platform fills it in. */
export interface HostFacts {
  hostname?: string;
  numCores?: number;
  memSizeMB?: number;
  cpuArch?: string;
  osType?: string;
  osName?: string;
  osVersion?: string;
  /** The server's command line. */
  argv?: string[];
  pid?: number;
}

type Handler = (cmd: Doc, db: string, conn: Connection) => Promise<Doc | EncodedReply>;

export class WireServer {
  private readonly client: ClientLike;
  private readonly log: Logger;
  private readonly metrics: Metrics | undefined;
  private readonly slowMs: number;
  private readonly ltVersion: string;
  private readonly now: () => number;
  private readonly host: HostFacts;
  private readonly hostname: string;
  private readonly cursors = new Map<number, OpenCursor>();
  /** Collection handles by namespace (see `coll`). */
  private readonly handles = new Map<string, CollectionLike>();
  private nextCursorId = Math.floor(Math.random() * 1e9) + 1;
  private readonly startedAt: number;
  readonly counters = { insert: 0, query: 0, update: 0, delete: 0, getmore: 0, command: 0 };
  connectionsCurrent = 0;
  connectionsTotal = 0;
  private readonly handlers: Record<string, Handler>;
  /** Metric series per command name (handler names only: bounded). */
  private readonly series = new Map<string, { ok: (by: number) => void; error: (by: number) => void; latency: (seconds: number) => void }>();

  constructor(options: WireServerOptions) {
    this.client = options.client;
    this.log = options.logger ?? silentLogger;
    this.metrics = options.metrics;
    this.slowMs = options.slowQueryMs ?? slowQueryMsDefault;
    this.ltVersion = options.largetableVersion ?? '0.0.0';
    this.now = options.now ?? (() => Date.now());
    this.host = options.host ?? {};
    this.hostname = this.host.hostname ?? 'localhost';
    this.startedAt = this.now();
    this.metrics?.gauge('largetable_wire_cursors_open', 'Open wire-protocol cursors', () => this.cursors.size);
    this.metrics?.gauge('largetable_wire_connections', 'Open wire-protocol connections', () => this.connectionsCurrent);
    const h: Record<string, Handler> = {
      hello: async (_c, _db, conn) => this.hello(conn),
      isMaster: async (_c, _db, conn) => ({ ...this.hello(conn), ismaster: true }),
      ping: async () => ({ ok: 1 }),
      buildInfo: async () => ({
        version, gitVersion: 'largetable', versionArray: [7, 0, 0, 0], largetableVersion: this.ltVersion,
        bits: 64, debug: false, maxBsonObjectSize: documentSizeBytesMax, storageEngines: ['largetable'], modules: [], ok: 1,
      }),
      getParameter: async (c) => {
        const r: Doc = { ok: 1 };
        if (c['featureCompatibilityVersion'] !== undefined || c['getParameter'] === '*') r['featureCompatibilityVersion'] = { version: '7.0' };
        return r;
      },
      getLog: async (c) => (c['getLog'] === '*' ? { names: ['global', 'startupWarnings'], ok: 1 } : { totalLinesWritten: 0, log: [], ok: 1 }),
      connectionStatus: async () => ({ authInfo: { authenticatedUsers: [], authenticatedUserRoles: [] }, ok: 1 }),
      hostInfo: async () => {
        const h = this.host;
        const system: Doc = { currentTime: new Date(this.now()), hostname: this.hostname };
        if (h.numCores !== undefined) system['numCores'] = h.numCores;
        if (h.memSizeMB !== undefined) system['memSizeMB'] = h.memSizeMB;
        if (h.cpuArch !== undefined) system['cpuArch'] = h.cpuArch;
        const os: Doc = { type: h.osType ?? 'unknown' };
        if (h.osName !== undefined) os['name'] = h.osName;
        if (h.osVersion !== undefined) os['version'] = h.osVersion;
        return { system, os, extra: {}, ok: 1 };
      },
      getCmdLineOpts: async () => ({ argv: this.host.argv ?? ['largetable'], parsed: {}, ok: 1 }),
      whatsmyuri: async (_c, _db, conn) => ({ you: conn.remote, ok: 1 }),
      getFreeMonitoringStatus: async () => ({ state: 'disabled', ok: 1 }),
      endSessions: async () => ({ ok: 1 }),
      killAllSessions: async () => ({ ok: 1 }),
      startSession: async () => ({ id: { id: new BSON.UUID() }, timeoutMinutes: wireSessionTimeoutMinutes, ok: 1 }),
      refreshSessions: async () => ({ ok: 1 }),
      serverStatus: async () => this.serverStatus(),
      listDatabases: async (c) => {
        const dbs = await listDatabases(this.client);
        const nameOnly = c['nameOnly'] === true;
        return {
          databases: nameOnly ? dbs.map((d) => ({ name: d['name'] })) : dbs,
          totalSize: dbs.reduce((s, d) => s + (Number(d['sizeOnDisk']) || 0), 0),
          ok: 1,
        };
      },
      listCollections: async (c, db) => {
        const filter = docArg(c['filter'], 'filter');
        let list = await this.client.db(db).listCollections().toArray();
        list = list.filter((x) => matchesSimple(x, filter));
        const batch = list.map((x) =>
          c['nameOnly'] === true ? { name: x['name'], type: x['type'] ?? 'collection' }
          : { name: x['name'], type: x['type'] ?? 'collection', options: x['options'] ?? {}, info: x['info'] ?? { readOnly: false }, idIndex: x['idIndex'] ?? { v: 2, key: { _id: 1 }, name: '_id_' } },
        );
        return { cursor: { id: Long.ZERO, ns: `${db}.$cmd.listCollections`, firstBatch: batch }, ok: 1 };
      },
      create: async (c, db) => {
        const name = validateCollectionName(c['create']);
        const { create: _n, $db: _d, lsid: _l, writeConcern: _w, $clusterTime: _t, ...opts } = c;
        await this.client.db(db).createCollection(name, opts);
        return { ok: 1 };
      },
      drop: async (c, db) => {
        const name = validateCollectionName(c['drop']);
        const exists = (await this.client.db(db).listCollections({ name }).toArray()).some((x) => x['name'] === name);
        const nIndexesWas = exists ? (await this.client.db(db).collection(name).listIndexes().toArray()).length : 0;
        await dropCollection(this.client, db, name);
        return { ns: `${db}.${name}`, nIndexesWas, ok: 1 };
      },
      dropDatabase: async (_c, db) => {
        await this.client.db(db).dropDatabase();
        return { dropped: db, ok: 1 };
      },
      dbStats: async (_c, db) => {
        const list = await this.client.db(db).listCollections().toArray();
        let objects = 0;
        let dataSize = 0;
        let storageSize = 0;
        let indexes = 0;
        let indexSize = 0;
        for (const x of list) {
          const col = this.client.db(db).collection(String(x['name']));
          const s: Doc = typeof col.stats === 'function' ? await col.stats() : {};
          objects += typeof s['count'] === 'number' ? s['count'] : await col.countDocuments({});
          dataSize += Number(s['size'] ?? 0);
          storageSize += Number(s['storageSize'] ?? s['size'] ?? 0);
          indexes += typeof s['nindexes'] === 'number' ? s['nindexes'] : (await col.listIndexes().toArray()).length;
          indexSize += Number(s['totalIndexSize'] ?? 0);
        }
        return {
          db, collections: list.length, views: 0, objects, avgObjSize: objects > 0 ? dataSize / objects : 0, dataSize, storageSize,
          indexes, indexSize, totalSize: storageSize + indexSize, scaleFactor: 1, ok: 1,
        };
      },
      collStats: async (c, db) => {
        const col = this.coll(db, c['collStats']);
        const s = typeof col.stats === 'function' ? await col.stats() : {};
        return { ns: `${db}.${String(c['collStats'])}`, count: await col.countDocuments({}), ...s, ok: 1 };
      },
      insert: (c, db) => this.insert(c, db),
      find: (c, db) => this.find(c, db),
      getMore: (c, db) => this.getMore(c, db),
      killCursors: async (c) => this.killCursors(c),
      update: (c, db) => this.update(c, db),
      delete: (c, db) => this.delete(c, db),
      findAndModify: (c, db) => this.findAndModify(c, db),
      aggregate: (c, db) => this.aggregate(c, db),
      count: async (c, db) => {
        const col = this.coll(db, c['count']);
        const opts: Doc = {};
        const limit = num(c['limit'], 'limit');
        const skip = num(c['skip'], 'skip');
        if (limit) opts['limit'] = Math.abs(limit);
        if (skip) opts['skip'] = skip;
        return { n: await col.countDocuments(docArg(c['query'], 'query'), opts), ok: 1 };
      },
      distinct: async (c, db) => {
        const col = this.coll(db, c['distinct']);
        if (typeof c['key'] !== 'string') typeMismatch('key must be a string');
        return { values: await col.distinct(c['key'], docArg(c['query'], 'query')), ok: 1 };
      },
      createIndexes: async (c, db) => {
        const col = this.coll(db, c['createIndexes']);
        const specs = arrayArg(c['indexes'], 'indexes');
        if (specs.length === 0) bad('indexes must not be empty');
        const collName = validateCollectionName(c['createIndexes']);
        const existed = (await this.client.db(db).listCollections({ name: collName }).toArray()).some((x) => x['name'] === collName);
        // mongod counts the _id index of a collection it creates for the command.
        const before = existed ? (await col.listIndexes().toArray()).length : 1;
        for (const s of specs) {
          const { key, ...opts } = docArg(s, 'index spec');
          if (!key || typeof key !== 'object' || Object.keys(key).length === 0) throw new CommandError(67, 'CannotCreateIndex', 'index spec needs a non-empty key');
          await col.createIndex(key as Doc, opts);
        }
        const after = (await col.listIndexes().toArray()).length;
        return { numIndexesBefore: before, numIndexesAfter: after, createdCollectionAutomatically: !existed, ok: 1 };
      },
      listIndexes: async (c, db) => {
        const name = validateCollectionName(c['listIndexes']);
        const list = await this.client.db(db).collection(name).listIndexes().toArray();
        return { cursor: { id: Long.ZERO, ns: `${db}.${name}`, firstBatch: list }, ok: 1 };
      },
      dropIndexes: async (c, db) => {
        const col = this.coll(db, c['dropIndexes']);
        const before = (await col.listIndexes().toArray()).length;
        const index = c['index'];
        if (index === '*') {
          if (typeof col.dropIndexes === 'function') await col.dropIndexes();
          else for (const ix of await col.listIndexes().toArray()) if (ix['name'] !== '_id_') await col.dropIndex(String(ix['name']));
        } else if (typeof index === 'string') {
          await col.dropIndex(index);
        } else if (Array.isArray(index)) {
          for (const n of index) await col.dropIndex(String(n));
        } else if (index && typeof index === 'object') {
          const want = JSON.stringify(index);
          const found = (await col.listIndexes().toArray()).find((ix) => JSON.stringify(ix['key']) === want);
          if (!found) throw new CommandError(27, 'IndexNotFound', `can't find index with key: ${want}`);
          await col.dropIndex(String(found['name']));
        } else {
          typeMismatch('index must be a name, a key pattern, an array of names or "*"');
        }
        return { nIndexesWas: before, ok: 1 };
      },
      explain: (c, db) => this.explain(c, db),
    };
    h['ismaster'] = h['isMaster']!;
    h['buildinfo'] = h['buildInfo']!;
    h['findandmodify'] = h['findAndModify']!;
    this.handlers = h;
  }

  /** Run one command document; `$db` names the database. Never throws. */
  async run(cmd: Doc, conn: Connection): Promise<Doc> {
    const r = await this.reply(cmd, conn);
    return r instanceof EncodedReply ? (BSON.deserialize(r.bson, { promoteLongs: false }) as Doc) : r;
  }

  /** As `run`, but a reply may come already encoded (what the socket glue sends as is). Never throws. */
  async reply(cmd: Doc, conn: Connection): Promise<Doc | EncodedReply> {
    let name: string | undefined;
    for (const k in cmd) {
      name = k;
      break;
    }
    this.counters.command++;
    if (!name) return errorReply(new CommandError(59, 'CommandNotFound', 'empty command'));
    const handler = Object.prototype.hasOwnProperty.call(this.handlers, name) ? this.handlers[name] : undefined;
    if (!handler) {
      this.log.debug('unknown command', { command: name.slice(0, 64) });
      return { ok: 0, errmsg: `no such command: '${name}'`, code: 59, codeName: 'CommandNotFound' };
    }
    const t0 = performance.now();
    let reply: Doc | EncodedReply;
    let ok: boolean;
    try {
      const db = validateDbName(cmd['$db'] ?? 'admin');
      reply = await handler(cmd, db, conn);
      ok = reply instanceof EncodedReply || reply['ok'] === 1;
    } catch (err) {
      reply = errorReply(err);
      ok = false;
      if (!(err instanceof CommandError) && !isLargetableError(err)) this.log.error('command failed', { command: name, err });
    }
    const ms = performance.now() - t0;
    if (this.metrics) {
      let s = this.series.get(name);
      if (!s) {
        const m = this.metrics;
        s = {
          ok: m.counterSeries('largetable_operations_total', 'Operations by API and result', { api: 'wire', op: name, result: 'ok' }),
          error: m.counterSeries('largetable_operations_total', 'Operations by API and result', { api: 'wire', op: name, result: 'error' }),
          latency: m.histogramSeries('largetable_operation_duration_seconds', 'Operation latency', { api: 'wire', op: name }),
        };
        this.series.set(name, s);
      }
      (ok ? s.ok : s.error)(1);
      s.latency(ms / 1000);
    }
    if (ms >= this.slowMs && name !== 'getMore') this.logSlow(name, cmd, ms);
    return reply;
  }

  private logSlow(name: string, cmd: Doc, ms: number): void {
    const fields: Doc = { api: 'wire', command: name, ns: `${String(cmd['$db'])}.${String(cmd[name])}`, ms: Math.round(ms * 10) / 10 };
    if (name === 'find' || name === 'aggregate') {
      this.explain({ explain: { ...cmd }, $db: cmd['$db'] }, String(cmd['$db']))
        .then((p) => this.log.warn('slow query', { ...fields, plan: BSON.EJSON.serialize(p['queryPlanner'] ?? p, { relaxed: true }) }))
        .catch(() => this.log.warn('slow query', fields));
    } else {
      this.log.warn('slow operation', fields);
    }
  }

  /** Close every open cursor (shutdown). */
  async closeAll(): Promise<void> {
    const all = [...this.cursors.values()];
    this.cursors.clear();
    await Promise.all(all.map((c) => c.cursor.close().catch(() => {})));
  }

  get openCursors(): number {
    return this.cursors.size;
  }

  private hello(conn: Connection): Doc {
    return {
      helloOk: true, isWritablePrimary: true, maxBsonObjectSize: documentSizeBytesMax, maxMessageSizeBytes: wireMessageBytesMax,
      maxWriteBatchSize: writeBatchDocumentsMax, localTime: new Date(this.now()), logicalSessionTimeoutMinutes: wireSessionTimeoutMinutes,
      connectionId: conn.id, minWireVersion: 0, maxWireVersion: 21, readOnly: false, ok: 1,
    };
  }

  private serverStatus(): Doc {
    return {
      host: this.hostname, version, process: 'largetable', ...(this.host.pid !== undefined ? { pid: this.host.pid } : {}), largetableVersion: this.ltVersion,
      uptime: Math.floor((this.now() - this.startedAt) / 1000), uptimeMillis: this.now() - this.startedAt, localTime: new Date(this.now()),
      connections: { current: this.connectionsCurrent, available: Math.max(0, wireConnectionsMax - this.connectionsCurrent), totalCreated: this.connectionsTotal },
      opcounters: { ...this.counters },
      metrics: { cursor: { open: { total: this.cursors.size } } },
      ok: 1,
    };
  }

  /**
   * The collection handle for `db.name` (db already validated). Handles are cached: the client
   * keeps one handle per namespace for its lifetime anyway, and a cache hit skips validating the
   * name again and building a Db (both ran on every command). Bounded: cleared when full.
   */
  private coll(db: string, name: unknown): CollectionLike {
    const key = typeof name === 'string' ? `${db}.${name}` : '';
    let col = this.handles.get(key);
    if (col) return col;
    col = this.client.db(db).collection(validateCollectionName(name));
    if (this.handles.size >= wireHandlesCachedMax) this.handles.clear();
    this.handles.set(key, col);
    return col;
  }

  private sweepCursors(): void {
    const cutoff = this.now() - wireCursorIdleMsMax;
    for (const [id, c] of this.cursors) {
      if (c.lastUsed < cutoff) {
        this.cursors.delete(id);
        void c.cursor.close().catch(() => {});
      }
    }
  }

  /** Read up to `batchSize` documents (and at most ~16 MB); register the cursor if more remain. */
  private async batch(cursor: CursorLike, ns: string, batchSize: number, single: boolean, peeked?: Doc | null): Promise<{ id: Long; docs: Doc[] }> {
    const docs: Doc[] = [];
    let bytes = 0;
    let next: Doc | null | undefined = peeked;
    for (;;) {
      if (next === undefined) next = await cursor.next();
      if (next === null) break;
      if (docs.length >= batchSize) break;
      const size = BSON.calculateObjectSize(next);
      if (docs.length > 0 && bytes + size > replyBatchBytesMax) break;
      docs.push(next);
      bytes += size;
      next = undefined;
    }
    if (next === null || single) {
      await cursor.close().catch(() => {});
      return { id: Long.ZERO, docs };
    }
    // `next` holds one document read ahead: keep it for the following getMore.
    this.sweepCursors();
    if (this.cursors.size >= wireCursorsOpenMax) {
      await cursor.close().catch(() => {});
      throw new CommandError(146, 'ExceededMemoryLimit', `more than ${wireCursorsOpenMax} open cursors`);
    }
    const id = this.nextCursorId++;
    if (this.nextCursorId > Number.MAX_SAFE_INTEGER) this.nextCursorId = 1;
    this.cursors.set(id, { cursor, ns, lastUsed: this.now(), peeked: next });
    return { id: Long.fromNumber(id), docs };
  }

  private async find(c: Doc, db: string): Promise<Doc | EncodedReply> {
    this.counters.query++;
    const col = this.coll(db, c['find']);
    const name = c['find'] as string;
    // Point read by _id: at most one document, so no cursor; its stored BSON goes into the reply as is.
    if (col.findRawById) {
      const point = pointFindId(c);
      if (point) {
        const raw = await col.findRawById(point.id);
        if (raw !== undefined) {
          const bson = encodeExhaustedCursorReply(`${db}.${name}`, raw ? [raw] : [], opMsgBodyOffset);
          return new EncodedReply(bson, new Uint8Array(bson.buffer, bson.byteOffset - opMsgBodyOffset, opMsgBodyOffset + bson.length));
        }
      }
    }
    const opts: Doc = {};
    const sort = optDoc(c['sort'], 'sort');
    const projection = optDoc(c['projection'], 'projection');
    if (sort && Object.keys(sort).length) opts['sort'] = sort;
    if (projection && Object.keys(projection).length) opts['projection'] = projection;
    const skip = num(c['skip'], 'skip');
    if (skip !== undefined) {
      if (skip < 0) bad('skip must be non-negative');
      opts['skip'] = skip;
    }
    let limit = num(c['limit'], 'limit') ?? 0;
    let single = c['singleBatch'] === true;
    if (limit < 0) {
      limit = -limit;
      single = true;
    }
    if (limit) opts['limit'] = limit;
    if (c['hint'] !== undefined) opts['hint'] = c['hint'];
    const batchSize = num(c['batchSize'], 'batchSize') ?? cursorBatchSizeDefault;
    if (batchSize < 0) bad('batchSize must be non-negative');
    const cursor = col.find(docArg(c['filter'], 'filter'), opts);
    const ns = `${db}.${name}`;
    const { id, docs } = await this.batch(cursor, ns, limit && limit < batchSize ? limit : batchSize || Number.MAX_SAFE_INTEGER, single);
    return { cursor: { firstBatch: docs, id, ns }, ok: 1 };
  }

  private async getMore(c: Doc, db: string): Promise<Doc> {
    this.counters.getmore++;
    const raw = c['getMore'];
    const id = raw instanceof Long ? raw.toNumber() : typeof raw === 'number' ? raw : typeof raw === 'bigint' ? Number(raw) : typeMismatch('getMore must be a cursor id');
    const name = validateCollectionName(c['collection']);
    const open = this.cursors.get(id);
    if (!open) throw new CommandError(43, 'CursorNotFound', `cursor id ${id} not found`);
    if (open.ns !== `${db}.${name}`) throw new CommandError(13, 'Unauthorized', `cursor ${id} belongs to ${open.ns}`);
    if (open.stream) return this.changeStreamBatch(id, open, c, 'nextBatch');
    this.cursors.delete(id);
    const batchSize = num(c['batchSize'], 'batchSize') || Number.MAX_SAFE_INTEGER;
    const { id: nextId, docs } = await this.batch(open.cursor, open.ns, batchSize, false, open.peeked);
    // Keep the same id for the continuing cursor, as mongod does.
    if (!nextId.isZero()) {
      const fresh = this.cursors.get(nextId.toNumber())!;
      this.cursors.delete(nextId.toNumber());
      this.cursors.set(id, fresh);
      return { cursor: { nextBatch: docs, id: Long.fromNumber(id), ns: open.ns }, ok: 1 };
    }
    return { cursor: { nextBatch: docs, id: Long.ZERO, ns: open.ns }, ok: 1 };
  }

  private async killCursors(c: Doc): Promise<Doc> {
    const ids = arrayArg(c['cursors'], 'cursors');
    const killed: Long[] = [];
    const notFound: Long[] = [];
    for (const raw of ids) {
      const id = raw instanceof Long ? raw.toNumber() : Number(raw);
      const open = this.cursors.get(id);
      if (open) {
        this.cursors.delete(id);
        await open.cursor.close().catch(() => {});
        killed.push(Long.fromNumber(id));
      } else notFound.push(Long.fromNumber(id));
    }
    return { cursorsKilled: killed, cursorsNotFound: notFound, cursorsAlive: [], cursorsUnknown: [], ok: 1 };
  }

  private async insert(c: Doc, db: string): Promise<Doc> {
    const col = this.coll(db, c['insert']);
    const docs = arrayArg(c['documents'], 'documents').map((d, i) => docArg(d, `documents[${i}]`));
    if (docs.length === 0) bad('documents must not be empty');
    if (docs.length > writeBatchDocumentsMax) bad(`more than ${writeBatchDocumentsMax} documents`);
    const ordered = c['ordered'] !== false;
    this.counters.insert += docs.length;
    if (docs.length === 1) {
      try {
        await col.insertOne(docs[0]!);
        return { n: 1, ok: 1 };
      } catch (err) {
        if (!isLargetableError(err)) throw err;
        return { n: 0, writeErrors: [writeError(0, err)], ok: 1 };
      }
    }
    // One batch, one commit. The client reports per-document failures in details.writeErrors
    // (documents before them committed). A batch refused before writing (an invalid document)
    // is retried one document at a time so valid documents are written, as mongod does.
    try {
      const r = await col.insertMany(docs, { ordered });
      return { n: r.insertedCount ?? docs.length, ok: 1 };
    } catch (err) {
      if (!isLargetableError(err)) throw err;
      const details = err.details as { writeErrors?: Doc[]; insertedCount?: number };
      if (Array.isArray(details.writeErrors) && (details.insertedCount ?? 0) > 0) {
        const writeErrors = details.writeErrors.map((e) => {
          const code = e['errCode'] as keyof typeof mongoCodeOf;
          const m = mongoCodeOf[code] ?? { code: Number(e['code'] ?? 2) };
          const info = (e['details'] ?? {}) as Doc;
          const out: Doc = { index: e['index'], code: m.code, errmsg: e['errmsg'] };
          if (info['keyPattern']) out['keyPattern'] = info['keyPattern'];
          if (info['keyValue']) out['keyValue'] = info['keyValue'];
          return out;
        });
        return { n: details.insertedCount ?? 0, writeErrors, ok: 1 };
      }
    }
    const writeErrors: Doc[] = [];
    let n = 0;
    for (let i = 0; i < docs.length; i++) {
      try {
        await col.insertOne(docs[i]!);
        n++;
      } catch (err) {
        if (!isLargetableError(err)) throw err;
        writeErrors.push(writeError(i, err));
        if (ordered) break;
      }
    }
    return writeErrors.length ? { n, writeErrors, ok: 1 } : { n, ok: 1 };
  }

  private async update(c: Doc, db: string): Promise<Doc> {
    const col = this.coll(db, c['update']);
    const updates = arrayArg(c['updates'], 'updates');
    const ordered = c['ordered'] !== false;
    const writeErrors: Doc[] = [];
    const upserted: Doc[] = [];
    let n = 0;
    let nModified = 0;
    for (let i = 0; i < updates.length; i++) {
      this.counters.update++;
      try {
        const s = docArg(updates[i], `updates[${i}]`);
        const q = docArg(s['q'], 'q');
        const u = s['u'];
        if (u === undefined || u === null || typeof u !== 'object') typeMismatch('u must be an object or a pipeline');
        const opts: Doc = {};
        if (s['upsert'] === true) opts['upsert'] = true;
        if (s['arrayFilters'] !== undefined) opts['arrayFilters'] = s['arrayFilters'];
        if (s['hint'] !== undefined) opts['hint'] = s['hint'];
        let r;
        if (isUpdateOperators(u)) {
          r = s['multi'] === true ? await col.updateMany(q, u as Doc, opts) : await col.updateOne(q, u as Doc, opts);
        } else {
          if (s['multi'] === true) throw new CommandError(9, 'FailedToParse', 'multi update is not supported for replacement-style update');
          r = await col.replaceOne(q, u as Doc, opts);
        }
        if (r.upsertedId !== undefined && r.upsertedId !== null && (r.upsertedCount ?? 1) > 0) {
          upserted.push({ index: i, _id: r.upsertedId });
          n += 1;
        } else {
          n += r.matchedCount;
        }
        nModified += r.modifiedCount;
      } catch (err) {
        writeErrors.push(writeError(i, err));
        if (ordered) break;
      }
    }
    const reply: Doc = { n, nModified, ok: 1 };
    if (upserted.length) reply['upserted'] = upserted;
    if (writeErrors.length) reply['writeErrors'] = writeErrors;
    return reply;
  }

  private async delete(c: Doc, db: string): Promise<Doc> {
    const col = this.coll(db, c['delete']);
    const deletes = arrayArg(c['deletes'], 'deletes');
    const ordered = c['ordered'] !== false;
    const writeErrors: Doc[] = [];
    let n = 0;
    for (let i = 0; i < deletes.length; i++) {
      this.counters.delete++;
      try {
        const s = docArg(deletes[i], `deletes[${i}]`);
        const q = docArg(s['q'], 'q');
        const limit = num(s['limit'], 'limit') ?? 0;
        const opts: Doc = s['hint'] !== undefined ? { hint: s['hint'] } : {};
        const r = limit === 1 ? await col.deleteOne(q, opts) : await col.deleteMany(q, opts);
        n += r.deletedCount;
      } catch (err) {
        writeErrors.push(writeError(i, err));
        if (ordered) break;
      }
    }
    return writeErrors.length ? { n, writeErrors, ok: 1 } : { n, ok: 1 };
  }

  private async findAndModify(c: Doc, db: string): Promise<Doc> {
    const col = this.coll(db, c['findAndModify'] ?? c['findandmodify']);
    const query = docArg(c['query'], 'query');
    const opts: Doc = { includeResultMetadata: true };
    const sort = optDoc(c['sort'], 'sort');
    const fields = optDoc(c['fields'], 'fields');
    if (sort) opts['sort'] = sort;
    if (fields) opts['projection'] = fields;
    if (c['upsert'] === true) opts['upsert'] = true;
    if (c['arrayFilters'] !== undefined) opts['arrayFilters'] = c['arrayFilters'];
    opts['returnDocument'] = c['new'] === true ? 'after' : 'before';
    if (c['remove'] === true) {
      if (c['update'] !== undefined) bad('cannot specify both an update and remove=true');
      this.counters.delete++;
      const r = findAndModifyResult(await col.findOneAndDelete(query, opts));
      return { lastErrorObject: { n: r.value ? 1 : 0 }, value: r.value, ok: 1 };
    }
    const u = c['update'];
    if (u === undefined || u === null || typeof u !== 'object') bad('either an update or remove=true must be specified');
    this.counters.update++;
    const raw = isUpdateOperators(u) ? await col.findOneAndUpdate(query, u as Doc, opts) : await col.findOneAndReplace(query, u as Doc, opts);
    const r = findAndModifyResult(raw);
    const leo: Doc = r.lastErrorObject ? { ...r.lastErrorObject } : { n: r.value ? 1 : 0, updatedExisting: !!r.value };
    return { lastErrorObject: leo, value: r.value, ok: 1 };
  }

  private async aggregate(c: Doc, db: string): Promise<Doc> {
    this.counters.query++;
    const target = c['aggregate'];
    if (target === 1) throw new CommandError(115, 'CommandNotSupported', 'database-level aggregate ({aggregate: 1}) is not supported');
    const col = this.coll(db, target);
    const name = target as string;
    const pipeline = arrayArg(c['pipeline'], 'pipeline').map((s, i) => docArg(s, `pipeline[${i}]`));
    const first = pipeline[0];
    if (first && '$changeStream' in first) return this.openChangeStream(db, name, col, docArg(first['$changeStream'], '$changeStream'), pipeline.slice(1));
    if (first && '$collStats' in first) return this.collStatsStage(db, name, col, docArg(first['$collStats'], '$collStats'));
    if (c['explain'] === true) return this.explain({ explain: { aggregate: name, pipeline }, $db: db }, db);
    const cursorOpt = docArg(c['cursor'], 'cursor');
    const batchSize = num(cursorOpt['batchSize'], 'cursor.batchSize') ?? cursorBatchSizeDefault;
    const opts: Doc = {};
    if (c['hint'] !== undefined) opts['hint'] = c['hint'];
    if (c['let'] !== undefined) opts['let'] = c['let'];
    const cursor = col.aggregate(pipeline, opts);
    const ns = `${db}.${name}`;
    const { id, docs } = await this.batch(cursor, ns, batchSize || Number.MAX_SAFE_INTEGER, false);
    return { cursor: { firstBatch: docs, id, ns }, ok: 1 };
  }

  /** `aggregate([{ $changeStream: {...} }, ...])`: the driver's `watch()`; a tailable cursor over `collection.watch`. */
  private async openChangeStream(db: string, name: string, col: CollectionLike, spec: Doc, rest: Doc[]): Promise<Doc> {
    if (typeof col.watch !== 'function') throw new CommandError(115, 'CommandNotSupported', 'change streams are not available');
    const opts: Doc = {};
    for (const k of ['resumeAfter', 'startAfter', 'fullDocument', 'fullDocumentBeforeChange', 'startAtOperationTime'] as const) if (spec[k] !== undefined) opts[k] = spec[k];
    const stream = col.watch(rest, opts);
    this.sweepCursors();
    if (this.cursors.size >= wireCursorsOpenMax) {
      await stream.close().catch(() => {});
      throw new CommandError(146, 'ExceededMemoryLimit', `more than ${wireCursorsOpenMax} open cursors`);
    }
    const id = this.nextCursorId++;
    const entry: OpenCursor = {
      cursor: { next: async () => null, toArray: async () => [], close: () => stream.close() },
      ns: `${db}.${name}`, lastUsed: this.now(), peeked: undefined,
      stream: { stream, pending: undefined, token: opts['startAfter'] ?? opts['resumeAfter'] },
    };
    this.cursors.set(id, entry);
    return { cursor: { firstBatch: [], id: Long.fromNumber(id), ns: entry.ns, ...(entry.stream!.token ? { postBatchResumeToken: entry.stream!.token } : {}) }, ok: 1 };
  }

  /** Events available now, else wait up to maxTimeMS for the first one. */
  private async changeStreamBatch(id: number, open: OpenCursor, c: Doc, field: 'nextBatch'): Promise<Doc> {
    const cs = open.stream!;
    const batchSize = num(c['batchSize'], 'batchSize') || 1000;
    const waitMs = Math.min(num(c['maxTimeMS'], 'maxTimeMS') ?? changeStreamAwaitMsDefault, changeStreamAwaitMsMax);
    const docs: Doc[] = [];
    let deadline = this.now() + waitMs;
    while (docs.length < batchSize) {
      cs.pending ??= cs.stream.next();
      const left = deadline - this.now();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const got = await Promise.race([cs.pending, new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), Math.max(0, left))))]);
      clearTimeout(timer);
      if (got === 'timeout') break;
      cs.pending = undefined;
      if (got === null) {
        this.cursors.delete(id);
        return { cursor: { [field]: docs, id: Long.ZERO, ns: open.ns, ...(cs.token ? { postBatchResumeToken: cs.token } : {}) }, ok: 1 };
      }
      docs.push(got);
      cs.token = got['_id'];
      deadline = this.now(); // after the first event, take only what is ready
    }
    open.lastUsed = this.now();
    return { cursor: { [field]: docs, id: Long.fromNumber(id), ns: open.ns, ...(cs.token ? { postBatchResumeToken: cs.token } : {}) }, ok: 1 };
  }

  /** `$collStats` as the first stage (mongosh's `db.coll.stats()`): one document from the collection's stats. */
  private async collStatsStage(db: string, name: string, col: CollectionLike, spec: Doc): Promise<Doc> {
    const s: Doc = typeof col.stats === 'function' ? await col.stats() : {};
    const count = typeof s['count'] === 'number' ? s['count'] : await col.countDocuments({});
    const indexes = await col.listIndexes().toArray();
    const out: Doc = { ns: `${db}.${name}`, host: this.hostname, localTime: new Date(this.now()) };
    if (spec['storageStats'] !== undefined || spec['count'] === undefined) {
      out['storageStats'] = {
        size: Number(s['size'] ?? 0), count, avgObjSize: Number(s['avgObjSize'] ?? 0), storageSize: Number(s['storageSize'] ?? s['size'] ?? 0),
        nindexes: indexes.length, totalIndexSize: Number(s['totalIndexSize'] ?? 0), indexSizes: s['indexSizes'] ?? {}, ...s,
      };
    }
    if (spec['count'] !== undefined) out['count'] = count;
    return { cursor: { firstBatch: [out], id: Long.ZERO, ns: `${db}.${name}` }, ok: 1 };
  }

  private async explain(c: Doc, db: string): Promise<Doc> {
    const inner = docArg(c['explain'], 'explain');
    const verbosity = typeof c['verbosity'] === 'string' ? c['verbosity'] : 'queryPlanner';
    const name = Object.keys(inner)[0];
    let plan: Doc;
    if (name === 'find') {
      const col = this.coll(db, inner['find']);
      const opts: Doc = {};
      for (const k of ['sort', 'projection', 'hint'] as const) if (inner[k] !== undefined) opts[k] = inner[k];
      const limit = num(inner['limit'], 'limit');
      const skip = num(inner['skip'], 'skip');
      if (limit) opts['limit'] = Math.abs(limit);
      if (skip) opts['skip'] = skip;
      const cur = col.find(docArg(inner['filter'], 'filter'), opts);
      if (typeof cur.explain !== 'function') throw new CommandError(115, 'CommandNotSupported', 'explain is not available');
      plan = await cur.explain(verbosity);
      await cur.close().catch(() => {});
    } else if (name === 'aggregate') {
      const col = this.coll(db, inner['aggregate']);
      const cur = col.aggregate(arrayArg(inner['pipeline'], 'pipeline') as Doc[]);
      if (typeof cur.explain !== 'function') throw new CommandError(115, 'CommandNotSupported', 'explain is not available');
      plan = await cur.explain(verbosity);
      await cur.close().catch(() => {});
    } else if (name === 'count' || name === 'distinct' || name === 'update' || name === 'delete' || name === 'findAndModify') {
      const col = this.coll(db, inner[name]);
      const filter = docArg(inner['query'] ?? inner['filter'] ?? (inner['updates'] as Doc[] | undefined)?.[0]?.['q'] ?? (inner['deletes'] as Doc[] | undefined)?.[0]?.['q'], 'query');
      const cur = col.find(filter);
      if (typeof cur.explain !== 'function') throw new CommandError(115, 'CommandNotSupported', 'explain is not available');
      plan = await cur.explain(verbosity);
      await cur.close().catch(() => {});
    } else {
      throw new CommandError(115, 'CommandNotSupported', `explain of ${String(name)} is not supported`);
    }
    return { ...plan, command: inner, serverInfo: { host: this.hostname, version }, ok: 1 };
  }
}

/** Equality-only filter on listCollections entries (`{ name: 'x' }`, `{ type: 'collection' }`, `{ name: { $in: [...] } }`). */
function matchesSimple(entry: Doc, filter: Doc): boolean {
  for (const [k, want] of Object.entries(filter)) {
    const have = entry[k];
    if (want && typeof want === 'object' && !Array.isArray(want)) {
      const w = want as Doc;
      if ('$in' in w && Array.isArray(w['$in'])) {
        if (!(w['$in'] as unknown[]).includes(have)) return false;
        continue;
      }
      if ('$eq' in w) {
        if (have !== w['$eq']) return false;
        continue;
      }
      if ('$regex' in w || w instanceof RegExp) {
        const re = w instanceof RegExp ? w : new RegExp(String(w['$regex']));
        if (!re.test(String(have))) return false;
        continue;
      }
      return false;
    }
    if (have !== want) return false;
  }
  return true;
}
