/**
 * The HTTP server as one hono app for every runtime: `createApp(client, options)`.
 *
 * Routes
 *   GET  /health                               version, runtime, kernel build, uptime
 *   GET  /metrics                              Prometheus text
 *   GET  /, /console/*                         the web console (static files from `options.assets`)
 *   /api/v1/...                                REST, bodies and results in MongoDB Extended JSON
 *
 * Invariants: request bodies are capped (413 before parsing); every name is validated before it
 * reaches the client; every error is a JSON `{ error: { code, message, mongoCode? } }` with a
 * status from the LargetableError code; nothing a request sends can throw past `onError`.
 */
import { Hono } from 'hono';
import type { Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { basicAuth } from 'hono/basic-auth';
import { HTTPException } from 'hono/http-exception';
import { streamSSE } from 'hono/streaming';
import type { UpgradeWebSocket } from 'hono/ws';
import { EJSON, ObjectId } from 'bson';
import { LargetableError, isLargetableError, mongoCodeOf } from '../errors.ts';
import type { ErrorCode } from '../errors.ts';
import { documentDepthMax, requestBodyBytesDefault, restFindDocumentsMax, slowQueryMsDefault } from '../limits.ts';
import type { ClientLike, CollectionLike, CursorLike, Doc, ChangeStreamLike } from './engine.ts';
import { dropCollection, listDatabases, numericStats, storeOf, documentCacheOf } from './engine.ts';
import { validateCollectionName, validateDbName } from './names.ts';
import { Metrics } from './metrics.ts';
import type { Logger } from './log.ts';
import { silentLogger } from './log.ts';

export interface StaticAsset {
  body: Uint8Array;
  type: string;
}

export interface AppOptions {
  version: string;
  /** e.g. "node 20.20.2" or "deno 2.5.0". */
  runtime: string;
  /** Kernel build in use: simd | scalar | typescript (or "unavailable"). */
  kernelBuild: string;
  logger?: Logger;
  metrics?: Metrics;
  bodyLimitBytes?: number;
  slowQueryMs?: number;
  /** Static files of the console, by path relative to web/ (e.g. "index.html"). */
  assets?: (path: string) => Promise<StaticAsset | undefined>;
  /** The runtime's hono WebSocket upgrader (enables /api/v1/.../changes/ws). */
  upgradeWebSocket?: UpgradeWebSocket<unknown>;
  /** Extra fields for /health (e.g. the wire port). */
  health?: () => Record<string, unknown>;
  /** When non-empty, every route except /health needs HTTP Basic credentials of one of these users. */
  users?: readonly { user: string; password: string }[];
}

export interface ServerApp {
  app: Hono;
  metrics: Metrics;
  /** Open change streams, SSE and WebSocket connections (closed on shutdown). */
  closeStreams(): Promise<void>;
  /** Count of requests currently running (graceful shutdown waits for 0). */
  inFlight(): number;
}

const statusOf: Partial<Record<ErrorCode, number>> = {
  INVALID_ARGUMENT: 400, BAD_QUERY: 400, INVALID_DOCUMENT: 400, INVALID_VECTOR: 400, FORBIDDEN_OPERATOR: 400,
  BAD_CONFIG: 400, LIMIT_EXCEEDED: 413, NOT_FOUND: 404, ALREADY_EXISTS: 409, DUPLICATE_KEY: 409,
  WRITE_CONFLICT: 409, NOT_SUPPORTED: 501, CLOSED: 503, LOCKED: 503,
};

/** The HTTP status for an error thrown while serving a request. */
export function httpStatusOf(err: unknown): number {
  if (isLargetableError(err)) return statusOf[err.code] ?? 500;
  return 500;
}

/** Parse Extended JSON text (canonical or relaxed) into a value, or throw INVALID_ARGUMENT. */
export function parseEjson(text: string, what: string): unknown {
  let value: unknown;
  try {
    value = EJSON.parse(text, { relaxed: true });
  } catch (err) {
    throw new LargetableError('INVALID_ARGUMENT', `${what}: malformed JSON/Extended JSON: ${(err as Error).message}`, { cause: err });
  }
  checkDepth(value, 0, what);
  return value;
}

function checkDepth(v: unknown, depth: number, what: string): void {
  if (depth > documentDepthMax) throw new LargetableError('LIMIT_EXCEEDED', `${what}: nested deeper than ${documentDepthMax}`);
  if (v instanceof Date) {
    if (Number.isNaN(v.getTime())) throw new LargetableError('INVALID_ARGUMENT', `${what}: invalid date`);
    return;
  }
  if (v && typeof v === 'object') for (const x of Object.values(v as object)) if (x && typeof x === 'object') checkDepth(x, depth + 1, what);
}

function asDoc(v: unknown, what: string): Doc {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw new LargetableError('INVALID_ARGUMENT', `${what} must be an object`);
  return v as Doc;
}

function asPipeline(v: unknown, what = 'pipeline'): Doc[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || v.some((s) => typeof s !== 'object' || s === null || Array.isArray(s))) {
    throw new LargetableError('INVALID_ARGUMENT', `${what} must be an array of stage objects`);
  }
  return v as Doc[];
}

/** `_id` from a URL segment: 24 hex digits -> ObjectId, JSON/EJSON text -> its value, else the string. */
export function parseIdParam(raw: string): unknown {
  if (/^[0-9a-fA-F]{24}$/.test(raw)) return new ObjectId(raw);
  if (/^-?\d+(\.\d+)?$/.test(raw) || raw.startsWith('{') || raw.startsWith('"')) return parseEjson(raw, '_id');
  return raw;
}

function ejsonResponse(c: Context, value: unknown, status = 200): Response {
  return c.body(EJSON.stringify(value, { relaxed: true }), status as 200, { 'content-type': 'application/json; charset=utf-8' });
}

function numberParam(raw: string | undefined, what: string, min: number, max: number): number | undefined {
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new LargetableError('INVALID_ARGUMENT', `${what} must be an integer in [${min}, ${max}]`);
  return n;
}

const sseKeepAliveMs = 15_000;

/** Build the app. `client` may be undefined while the store is opening (API routes then answer 503). */
export function createApp(client: ClientLike | undefined, options: AppOptions): ServerApp {
  const log = options.logger ?? silentLogger;
  const metrics = options.metrics ?? new Metrics();
  const slowMs = options.slowQueryMs ?? slowQueryMsDefault;
  const startedAt = Date.now();
  const streams = new Set<ChangeStreamLike>();
  let inFlight = 0;
  const app = new Hono();

  metrics.gauge('largetable_http_in_flight', 'HTTP requests being served', () => inFlight);
  metrics.gauge('largetable_change_streams_open', 'Open change streams (SSE + WebSocket)', () => streams.size);
  metrics.gauge('largetable_uptime_seconds', 'Seconds since the server started', () => (Date.now() - startedAt) / 1000);
  if (client) {
    const c = client;
    metrics.gauge('largetable_store', 'Storage engine counters by key (walSyncs, compactions, blockCacheHits, segments, ...)', () => {
      const s = storeOf(c)?.stats?.();
      return s instanceof Promise || s === undefined ? {} : numericStats(s);
    });
    metrics.gauge('largetable_document_cache', 'Document cache: entries, bytes (approximate), budgetBytes, hits, misses', () => {
      const dc = documentCacheOf(c);
      return dc ? { ...dc.stats(), budgetBytes: dc.maxBytes } : {};
    });
  }

  const need = (): ClientLike => {
    if (!client) throw new LargetableError('CLOSED', 'the database is not open');
    return client;
  };
  const coll = (c: Context): CollectionLike => {
    const db = validateDbName(c.req.param('db'));
    const name = validateCollectionName(c.req.param('coll'));
    return need().db(db).collection(name);
  };
  const readBody = async (c: Context, what = 'request body'): Promise<unknown> => {
    const text = await c.req.text();
    if (text.trim() === '') return undefined;
    return parseEjson(text, what);
  };
  /** Metric series per REST operation name (route names only: bounded). */
  const opSeries = new Map<string, { ok: (by: number) => void; error: (by: number) => void; latency: (seconds: number) => void }>();
  /** Request counters per method and status (bounded: methods x statuses). */
  const requestSeries = new Map<string, (by: number) => void>();
  /** Time an operation, count it, and log it (with its plan) when slow. */
  const timed = async <T>(op: string, ns: string, run: () => Promise<T>, plan?: () => Promise<unknown>): Promise<T> => {
    const t0 = performance.now();
    let ok = false;
    try {
      const r = await run();
      ok = true;
      return r;
    } finally {
      const ms = performance.now() - t0;
      let sr = opSeries.get(op);
      if (!sr) {
        sr = {
          ok: metrics.counterSeries('largetable_operations_total', 'Operations by API and result', { api: 'rest', op, result: 'ok' }),
          error: metrics.counterSeries('largetable_operations_total', 'Operations by API and result', { api: 'rest', op, result: 'error' }),
          latency: metrics.histogramSeries('largetable_operation_duration_seconds', 'Operation latency', { api: 'rest', op }),
        };
        opSeries.set(op, sr);
      }
      (ok ? sr.ok : sr.error)(1);
      sr.latency(ms / 1000);
      if (ms >= slowMs) {
        const fields = { op, ns, ms: Math.round(ms * 10) / 10 };
        if (plan) plan().then((p) => log.warn('slow query', { ...fields, plan: EJSON.serialize(p ?? null, { relaxed: true }) }), () => log.warn('slow query', fields));
        else log.warn('slow operation', fields);
      }
    }
  };

  app.use('*', async (c, next) => {
    inFlight++;
    const t0 = performance.now();
    try {
      await next();
    } finally {
      inFlight--;
      const method = c.req.method;
      const status = c.res.status;
      const key = method + ' ' + status;
      let inc = requestSeries.get(key);
      if (!inc) {
        inc = metrics.counterSeries('largetable_http_requests_total', 'HTTP requests by method and status', { method, status: String(status) });
        if (requestSeries.size < 1024) requestSeries.set(key, inc);
      }
      inc(1);
      if (log.level === 'debug') log.debug('request', { method: c.req.method, path: c.req.path, status: c.res.status, ms: Math.round((performance.now() - t0) * 10) / 10 });
    }
  });

  if (options.users && options.users.length > 0) {
    const [first, ...more] = options.users.map((u) => ({ username: u.user, password: u.password }));
    const auth = basicAuth({ ...first!, realm: 'largetable', invalidUserMessage: { error: { code: 'UNAUTHORIZED', message: 'credentials required' } } }, ...more);
    app.use('*', (c, next) => (c.req.path === '/health' ? next() : auth(c, next)));
  }

  app.onError((err, c) => {
    if (err instanceof HTTPException) return err.getResponse();
    const status = httpStatusOf(err);
    const code = isLargetableError(err) ? err.code : 'INTERNAL';
    const mongo = isLargetableError(err) ? mongoCodeOf[err.code] : undefined;
    if (status >= 500) log.error('request failed', { method: c.req.method, path: c.req.path, err });
    return c.json({ error: { code, message: status >= 500 && !isLargetableError(err) ? 'internal error' : err.message, ...(mongo ? { mongoCode: mongo.code } : {}) } }, status as 500);
  });
  app.notFound((c) => c.json({ error: { code: 'NOT_FOUND', message: `no route ${c.req.method} ${c.req.path}` } }, 404));

  // ---- status ----
  app.get('/health', (c) =>
    c.json({
      status: client ? 'ok' : 'no-database',
      name: 'largetable',
      version: options.version,
      runtime: options.runtime,
      kernel: options.kernelBuild,
      uptimeSeconds: Math.round((Date.now() - startedAt) / 1000),
      ...(options.health?.() ?? {}),
    }),
  );
  app.get('/metrics', (c) => c.body(metrics.render(), 200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }));

  // ---- console ----
  const serveAsset = async (c: Context, path: string): Promise<Response> => {
    if (!options.assets || path.includes('..') || path.includes('\0')) return c.notFound();
    const a = await options.assets(path);
    if (!a) return c.notFound();
    return c.body(a.body as Uint8Array<ArrayBuffer>, 200, { 'content-type': a.type, 'cache-control': 'no-cache' });
  };
  app.get('/', (c) => serveAsset(c, 'index.html'));
  app.get('/console/*', (c) => serveAsset(c, c.req.path.slice('/console/'.length)));

  // ---- REST ----
  const api = new Hono();
  const maxBody = options.bodyLimitBytes ?? requestBodyBytesDefault;
  // The unread rest of the body must not be parsed as a next request: close the connection.
  const tooLarge = (c: Context): Response =>
    c.json({ error: { code: 'LIMIT_EXCEEDED', message: `request body larger than ${maxBody} bytes` } }, 413, { connection: 'close' });
  const limitStreamed = bodyLimit({ maxSize: maxBody, onError: tooLarge });
  // GET/HEAD carry no body. A Content-Length (the HTTP parser holds the body to it) is checked
  // from the header alone, which keeps the runtime's fast body path; only a streamed body
  // (chunked) goes through hono's counting limiter.
  api.use('*', (c, next) => {
    const method = c.req.method;
    if (method === 'GET' || method === 'HEAD') return next();
    const len = c.req.header('content-length');
    if (len !== undefined && c.req.header('transfer-encoding') === undefined) {
      const n = Number(len);
      return !Number.isSafeInteger(n) || n < 0 || n > maxBody ? Promise.resolve(tooLarge(c)) : next();
    }
    return limitStreamed(c, next);
  });

  api.get('/databases', async (c) => ejsonResponse(c, { databases: await listDatabases(need()) }));
  api.delete('/databases/:db', async (c) => {
    const db = validateDbName(c.req.param('db'));
    await timed('dropDatabase', db, () => need().db(db).dropDatabase());
    return c.json({ ok: true });
  });
  api.get('/databases/:db/collections', async (c) => {
    const db = validateDbName(c.req.param('db'));
    const list = await need().db(db).listCollections().toArray();
    return ejsonResponse(c, { collections: list });
  });
  api.post('/databases/:db/collections', async (c) => {
    const db = validateDbName(c.req.param('db'));
    const body = asDoc(await readBody(c), 'body');
    const name = validateCollectionName(body['name']);
    const opts = asDoc(body['options'], 'options');
    await timed('create', `${db}.${name}`, () => need().db(db).createCollection(name, opts));
    return c.json({ ok: true, name }, 201);
  });
  api.delete('/databases/:db/collections/:coll', async (c) => {
    const db = validateDbName(c.req.param('db'));
    const name = validateCollectionName(c.req.param('coll'));
    const dropped = await timed('drop', `${db}.${name}`, () => dropCollection(need(), db, name));
    if (!dropped) throw new LargetableError('NOT_FOUND', `collection ${db}.${name} does not exist`);
    return c.json({ ok: true });
  });

  const base = '/databases/:db/collections/:coll';
  const ns = (c: Context): string => `${c.req.param('db')}.${c.req.param('coll')}`;

  api.post(`${base}/documents`, async (c) => {
    const col = coll(c);
    const body = await readBody(c);
    if (Array.isArray(body)) {
      const docs = body.map((d, i) => asDoc(d, `document ${i}`));
      const r = await timed('insertMany', ns(c), () => col.insertMany(docs));
      return ejsonResponse(c, { insertedCount: r.insertedCount ?? docs.length, insertedIds: Object.values(r.insertedIds) }, 201);
    }
    if (body === undefined) throw new LargetableError('INVALID_ARGUMENT', 'body must be a document or an array of documents');
    const r = await timed('insert', ns(c), () => col.insertOne(asDoc(body, 'document')));
    return ejsonResponse(c, { insertedId: r.insertedId }, 201);
  });
  api.get(`${base}/documents`, async (c) => {
    const col = coll(c);
    const q = c.req.query();
    const filter = asDoc(q['filter'] ? parseEjson(q['filter'], 'filter') : {}, 'filter');
    const sort = q['sort'] ? asDoc(parseEjson(q['sort'], 'sort'), 'sort') : undefined;
    const projection = q['projection'] ? asDoc(parseEjson(q['projection'], 'projection'), 'projection') : undefined;
    const limit = numberParam(q['limit'], 'limit', 0, restFindDocumentsMax) ?? 20;
    const skip = numberParam(q['skip'], 'skip', 0, Number.MAX_SAFE_INTEGER) ?? 0;
    const opts: Doc = { limit, skip, ...(sort ? { sort } : {}), ...(projection ? { projection } : {}) };
    const docs = await timed('find', ns(c), () => col.find(filter, opts).toArray(), () => explainFind(col, filter, opts));
    return ejsonResponse(c, { documents: docs });
  });
  api.get(`${base}/documents/:id`, async (c) => {
    const col = coll(c);
    const id = parseIdParam(c.req.param('id'));
    const doc = await timed('findOne', ns(c), () => col.findOne({ _id: id }));
    if (!doc) throw new LargetableError('NOT_FOUND', 'no document with that _id');
    return ejsonResponse(c, doc);
  });
  api.put(`${base}/documents/:id`, async (c) => {
    const col = coll(c);
    const id = parseIdParam(c.req.param('id'));
    const doc = asDoc(await readBody(c), 'document');
    const { _id: _ignored, ...rest } = doc;
    const r = await timed('replace', ns(c), () => col.replaceOne({ _id: id }, rest, { upsert: true }));
    return ejsonResponse(c, { matchedCount: r.matchedCount, modifiedCount: r.modifiedCount, upsertedId: r.upsertedId ?? null });
  });
  api.patch(`${base}/documents/:id`, async (c) => {
    const col = coll(c);
    const id = parseIdParam(c.req.param('id'));
    const body = await readBody(c);
    const update = Array.isArray(body) ? asPipeline(body, 'update pipeline') : asDoc(body, 'update');
    const r = await timed('update', ns(c), () => col.updateOne({ _id: id }, update));
    if (r.matchedCount === 0) throw new LargetableError('NOT_FOUND', 'no document with that _id');
    return ejsonResponse(c, { matchedCount: r.matchedCount, modifiedCount: r.modifiedCount });
  });
  api.delete(`${base}/documents/:id`, async (c) => {
    const col = coll(c);
    const id = parseIdParam(c.req.param('id'));
    const r = await timed('delete', ns(c), () => col.deleteOne({ _id: id }));
    if (r.deletedCount === 0) throw new LargetableError('NOT_FOUND', 'no document with that _id');
    return c.json({ deletedCount: r.deletedCount });
  });

  api.post(`${base}/find`, async (c) => {
    const col = coll(c);
    const body = asDoc(await readBody(c), 'body');
    const filter = asDoc(body['filter'], 'filter');
    const opts: Doc = { limit: numberParam(String(body['limit'] ?? 100), 'limit', 0, restFindDocumentsMax) ?? 100 };
    if (body['skip'] !== undefined) opts['skip'] = numberParam(String(body['skip']), 'skip', 0, Number.MAX_SAFE_INTEGER);
    if (body['sort'] !== undefined) opts['sort'] = asDoc(body['sort'], 'sort');
    if (body['projection'] !== undefined) opts['projection'] = asDoc(body['projection'], 'projection');
    const docs = await timed('find', ns(c), () => col.find(filter, opts).toArray(), () => explainFind(col, filter, opts));
    return ejsonResponse(c, { documents: docs });
  });
  api.post(`${base}/count`, async (c) => {
    const col = coll(c);
    const body = asDoc(await readBody(c), 'body');
    const n = await timed('count', ns(c), () => col.countDocuments(asDoc(body['filter'], 'filter')));
    return c.json({ count: n });
  });
  api.post(`${base}/aggregate`, async (c) => {
    const col = coll(c);
    const body = await readBody(c);
    const pipeline = asPipeline(Array.isArray(body) ? body : asDoc(body, 'body')['pipeline']);
    const { docs, truncated } = await timed('aggregate', ns(c), () => take(col.aggregate(pipeline), restFindDocumentsMax));
    return ejsonResponse(c, truncated ? { documents: docs, truncated } : { documents: docs });
  });
  api.post(`${base}/vectorSearch`, async (c) => {
    const col = coll(c);
    const body = asDoc(await readBody(c), 'body');
    const { pipeline: rest, ...stage } = body;
    const pipeline = [{ $vectorSearch: stage }, ...asPipeline(rest)];
    const docs = await timed('vectorSearch', ns(c), () => col.aggregate(pipeline).toArray());
    return ejsonResponse(c, { documents: docs });
  });
  api.post(`${base}/explain`, async (c) => {
    const col = coll(c);
    const body = asDoc(await readBody(c), 'body');
    if (body['pipeline'] !== undefined) {
      const cur = col.aggregate(asPipeline(body['pipeline']));
      if (typeof cur.explain !== 'function') throw new LargetableError('NOT_SUPPORTED', 'explain is not available');
      return ejsonResponse(c, await cur.explain('queryPlanner'));
    }
    const opts: Doc = {};
    for (const k of ['sort', 'projection'] as const) if (body[k] !== undefined) opts[k] = asDoc(body[k], k);
    if (body['limit'] !== undefined) opts['limit'] = numberParam(String(body['limit']), 'limit', 0, Number.MAX_SAFE_INTEGER);
    return ejsonResponse(c, await explainFind(col, asDoc(body['filter'], 'filter'), opts));
  });
  api.get(`${base}/indexes`, async (c) => ejsonResponse(c, { indexes: await coll(c).listIndexes().toArray() }));
  api.post(`${base}/indexes`, async (c) => {
    const col = coll(c);
    const body = asDoc(await readBody(c), 'body');
    const key = asDoc(body['key'], 'key');
    if (Object.keys(key).length === 0) throw new LargetableError('INVALID_ARGUMENT', 'key must name at least one field');
    const { key: _k, ...opts } = body;
    const name = await timed('createIndex', ns(c), () => col.createIndex(key, opts));
    return c.json({ name }, 201);
  });
  api.delete(`${base}/indexes/:name`, async (c) => {
    const col = coll(c);
    const name = c.req.param('name');
    await timed('dropIndex', ns(c), () => col.dropIndex(name));
    return c.json({ ok: true });
  });
  api.get(`${base}/stats`, async (c) => {
    const col = coll(c);
    if (typeof col.stats !== 'function') {
      return ejsonResponse(c, { ns: ns(c), count: await col.countDocuments({}) });
    }
    return ejsonResponse(c, await col.stats());
  });

  // ---- change streams ----
  const openStream = (c: Context, resumeRaw: string | undefined): ChangeStreamLike => {
    const col = coll(c);
    if (typeof col.watch !== 'function') throw new LargetableError('NOT_SUPPORTED', 'change streams are not available');
    const q = c.req.query();
    const pipeline = q['pipeline'] ? asPipeline(parseEjson(q['pipeline'], 'pipeline')) : [];
    const opts: Doc = {};
    if (resumeRaw) opts['resumeAfter'] = parseEjson(resumeRaw, 'resume token');
    const s = col.watch(pipeline, opts);
    streams.add(s);
    return s;
  };
  const closeStream = async (s: ChangeStreamLike): Promise<void> => {
    streams.delete(s);
    await s.close().catch(() => {});
  };

  api.get(`${base}/changes`, (c) => {
    const stream = openStream(c, c.req.header('last-event-id') ?? c.req.query('resumeAfter'));
    return streamSSE(c, async (sse) => {
      sse.onAbort(() => void closeStream(stream));
      await sse.writeSSE({ event: 'ready', data: '{}' });
      // A comment line now and then keeps idle connections open through proxies.
      const keepAlive = setInterval(() => void sse.write(': keep-alive\n\n').catch(() => {}), sseKeepAliveMs);
      try {
        while (streams.has(stream)) {
          const ev = await stream.next();
          if (!ev) break;
          await sse.writeSSE({ id: EJSON.stringify(ev['_id'], { relaxed: false }), event: 'change', data: EJSON.stringify(ev, { relaxed: true }) });
        }
      } catch (err) {
        if (streams.has(stream)) await sse.writeSSE({ event: 'error', data: JSON.stringify({ message: (err as Error).message }) }).catch(() => {});
      } finally {
        clearInterval(keepAlive);
        await closeStream(stream);
      }
    });
  });
  if (options.upgradeWebSocket) {
    const upgrade = options.upgradeWebSocket;
    api.get(
      `${base}/changes/ws`,
      upgrade((c) => {
        // Validate before the upgrade completes: a bad name or token throws into onError (HTTP 400).
        const stream = openStream(c, c.req.query('resumeAfter'));
        return {
          onOpen(_ev, ws) {
            void (async () => {
              try {
                while (streams.has(stream)) {
                  const ev = await stream.next();
                  if (!ev) break;
                  ws.send(EJSON.stringify(ev, { relaxed: false }));
                }
              } catch (err) {
                if (streams.has(stream)) ws.close(1011, (err as Error).message.slice(0, 100));
              } finally {
                await closeStream(stream);
              }
            })();
          },
          onClose() {
            void closeStream(stream);
          },
          onError() {
            void closeStream(stream);
          },
        };
      }),
    );
  }

  app.route('/api/v1', api);

  return {
    app,
    metrics,
    inFlight: () => inFlight,
    async closeStreams() {
      await Promise.all([...streams].map((s) => closeStream(s)));
    },
  };
}

/** At most `max` documents from a cursor (then closed); `truncated` when more remained. */
async function take(cur: CursorLike, max: number): Promise<{ docs: Doc[]; truncated: boolean }> {
  const docs: Doc[] = [];
  try {
    for (let d = await cur.next(); d; d = await cur.next()) {
      if (docs.length === max) return { docs, truncated: true };
      docs.push(d);
    }
    return { docs, truncated: false };
  } finally {
    await cur.close().catch(() => {});
  }
}

async function explainFind(col: CollectionLike, filter: Doc, opts: Doc): Promise<Doc> {
  const cur = col.find(filter, opts);
  if (typeof cur.explain !== 'function') throw new LargetableError('NOT_SUPPORTED', 'explain is not available');
  try {
    return await cur.explain('queryPlanner');
  } finally {
    await cur.close().catch(() => {});
  }
}
