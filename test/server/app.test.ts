// The hono app in-process (app.fetch) over a real client on a memory store: REST CRUD in
// Extended JSON, errors and status codes, body cap, hostile names, SSE change stream with resume.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { EJSON, ObjectId } from 'bson';
import { open } from '../../src/index.ts';
import { openMemoryAdapter } from '../../platform/memory.ts';
import { createApp } from '../../src/server/app.ts';
import type { ServerApp } from '../../src/server/app.ts';
import type { ClientLike } from '../../src/server/engine.ts';
import { createLogger } from '../../src/server/log.ts';
import { defaultConfig } from '../../src/config.ts';
import { requestBodyBytesDefault, requestBodyBytesMax, slowQueryMsDefault } from '../../src/limits.ts';

let client: ClientLike & { close(): Promise<void> };
let server: ServerApp;
const logs: string[] = [];
const base = 'http://x/api/v1/databases/app/collections/users';

async function req(method: string, url: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: any; text: string }> {
  const init: RequestInit = { method, headers: { 'content-type': 'application/json', ...headers } };
  if (body !== undefined) init.body = typeof body === 'string' ? body : EJSON.stringify(body as object, { relaxed: false });
  const res = await server.app.fetch(new Request(url, init));
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? EJSON.parse(text, { relaxed: true }) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text };
}

describe('REST app', () => {
  before(async () => {
    client = (await open('memory://app-test', { adapter: openMemoryAdapter('app-test'), kernels: 'typescript', ttlMonitor: false })) as unknown as typeof client;
    server = createApp(client, {
      version: '9.9.9', runtime: 'test', kernelBuild: 'typescript', bodyLimitBytes: 64 * 1024, slowQueryMs: 0,
      logger: createLogger('warn', (l) => logs.push(l)),
    });
  });
  after(async () => {
    await server.closeStreams();
    await client.close();
  });

  it('GET /health reports version, runtime and kernel build', async () => {
    const r = await req('GET', 'http://x/health');
    assert.equal(r.status, 200);
    assert.equal(r.json.status, 'ok');
    assert.equal(r.json.version, '9.9.9');
    assert.equal(r.json.kernel, 'typescript');
  });

  it('inserts, reads by _id and finds documents in Extended JSON', async () => {
    const id = new ObjectId();
    const r1 = await req('POST', `${base}/documents`, { _id: id, name: 'Ada', born: new Date('1815-12-10T00:00:00Z'), age: 36 });
    assert.equal(r1.status, 201);
    assert.ok(id.equals(r1.json.insertedId));
    const r2 = await req('POST', `${base}/documents`, [{ name: 'Alan', age: 41 }, { name: 'Grace', age: 85 }]);
    assert.equal(r2.status, 201);
    assert.equal(r2.json.insertedCount, 2);
    const one = await req('GET', `${base}/documents/${id.toHexString()}`);
    assert.equal(one.status, 200);
    assert.equal(one.json.name, 'Ada');
    assert.ok(one.json.born instanceof Date);
    assert.equal(one.json.born.toISOString(), '1815-12-10T00:00:00.000Z');
    const found = await req('POST', `${base}/find`, { filter: { age: { $gt: 40 } }, sort: { age: -1 }, projection: { _id: 0, name: 1 } });
    assert.equal(found.status, 200);
    assert.deepEqual(found.json.documents, [{ name: 'Grace' }, { name: 'Alan' }]);
    const q = await req('GET', `${base}/documents?filter=${encodeURIComponent('{"age":{"$lt":40}}')}`);
    assert.deepEqual(q.json.documents.map((d: { name: string }) => d.name), ['Ada']);
  });

  it('updates, replaces, deletes, counts and aggregates', async () => {
    const ins = await req('POST', `${base}/documents`, { name: 'Temp', age: 1 });
    const id = (ins.json.insertedId as ObjectId).toHexString();
    const up = await req('PATCH', `${base}/documents/${id}`, { $inc: { age: 2 } });
    assert.equal(up.json.modifiedCount, 1);
    assert.equal((await req('GET', `${base}/documents/${id}`)).json.age, 3);
    await req('PUT', `${base}/documents/${id}`, { name: 'Temp2' });
    const after = (await req('GET', `${base}/documents/${id}`)).json;
    assert.equal(after.name, 'Temp2');
    assert.equal(after.age, undefined);
    assert.equal((await req('DELETE', `${base}/documents/${id}`)).status, 200);
    assert.equal((await req('GET', `${base}/documents/${id}`)).status, 404);
    assert.equal((await req('POST', `${base}/count`, { filter: {} })).json.count, 3);
    const agg = await req('POST', `${base}/aggregate`, { pipeline: [{ $group: { _id: null, total: { $sum: '$age' } } }] });
    assert.equal(agg.json.documents[0].total, 36 + 41 + 85);
  });

  it('manages indexes and explains', async () => {
    const c = await req('POST', `${base}/indexes`, { key: { age: 1 }, name: 'age_1' });
    assert.equal(c.status, 201);
    const list = await req('GET', `${base}/indexes`);
    assert.deepEqual(list.json.indexes.map((i: { name: string }) => i.name).sort(), ['_id_', 'age_1']);
    const ex = await req('POST', `${base}/explain`, { filter: { age: 41 } });
    assert.equal(ex.status, 200);
    assert.ok(JSON.stringify(ex.json.queryPlanner.winningPlan).includes('IXSCAN'));
    assert.equal((await req('DELETE', `${base}/indexes/age_1`)).status, 200);
  });

  it('vector search over REST', async () => {
    const vb = 'http://x/api/v1/databases/app/collections/vecs';
    assert.equal((await req('POST', `${vb}/indexes`, { key: { v: 'vector' }, dimensions: 3, metric: 'cosine' })).status, 201);
    const docs = [[1, 0, 0], [0, 1, 0], [0.9, 0.1, 0], [0, 0, 1]].map((v, i) => ({ _id: i, v }));
    assert.equal((await req('POST', `${vb}/documents`, docs)).status, 201);
    const r = await req('POST', `${vb}/vectorSearch`, { path: 'v', queryVector: [1, 0, 0], limit: 2, pipeline: [{ $project: { _id: 1 } }] });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.documents.map((d: { _id: number }) => d._id), [0, 2]);
  });

  it('lists databases and collections', async () => {
    const d = await req('GET', 'http://x/api/v1/databases');
    assert.ok(d.json.databases.some((x: { name: string }) => x.name === 'app'));
    const c = await req('GET', 'http://x/api/v1/databases/app/collections');
    assert.ok(c.json.collections.some((x: { name: string }) => x.name === 'users'));
  });

  it('answers malformed input with typed 4xx errors and keeps serving', async () => {
    const bad = await req('POST', `${base}/documents`, '{"name": ');
    assert.equal(bad.status, 400);
    assert.equal(bad.json.error.code, 'INVALID_ARGUMENT');
    const badEjson = await req('POST', `${base}/documents`, '{"d": {"$date": "not a date"}}');
    assert.equal(badEjson.status, 400);
    const proto = await req('POST', `${base}/documents`, '{"__proto__": {"polluted": 1}}');
    assert.equal(proto.status, 400);
    assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
    const badOid = await req('POST', `${base}/documents`, '{"_id": {"$oid": "zz"}}');
    assert.equal(badOid.status, 400);
    const badFilter = await req('POST', `${base}/find`, { filter: { age: { $nope: 1 } } });
    assert.equal(badFilter.status, 400);
    const big = await req('POST', `${base}/documents`, JSON.stringify({ s: 'x'.repeat(100 * 1024) }));
    assert.equal(big.status, 413);
    const declared = await req('POST', `${base}/documents`, '{}', { 'content-length': String(10 * 1024 * 1024) });
    assert.equal(declared.status, 413);
    const bogus = await req('POST', `${base}/documents`, '{}', { 'content-length': 'abc' });
    assert.equal(bogus.status, 413);
    for (const name of ['..', '%2e%2e', 'a%2Fb', '%24cmd', 'x'.repeat(70), 'a%00b']) {
      const r = await req('GET', `http://x/api/v1/databases/${name}/collections/c/documents`);
      assert.ok(r.status === 400 || r.status === 404, `${name}: ${r.status}`);
    }
    const deep = await req('POST', `${base}/documents`, '['.repeat(200) + ']'.repeat(200));
    assert.ok(deep.status === 400 || deep.status === 413, String(deep.status));
    assert.equal((await req('GET', 'http://x/health')).status, 200);
  });

  it('takes its defaults from limits.ts: body cap (requestBodyBytesDefault), slow query threshold', async () => {
    assert.equal(defaultConfig.bodyLimitBytes, requestBodyBytesDefault);
    assert.equal(defaultConfig.slowQueryMs, slowQueryMsDefault);
    assert.ok(requestBodyBytesDefault <= requestBodyBytesMax);
    const plain = createApp(client, { version: '1', runtime: 't', kernelBuild: 't' });
    const post = (len: number) => plain.app.fetch(new Request(`${base}/documents`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': String(len) }, body: '{}' }));
    assert.equal((await post(requestBodyBytesDefault + 1)).status, 413);
    assert.notEqual((await post(requestBodyBytesDefault)).status, 413);
  });

  it('duplicate _id is a 409 with the MongoDB code', async () => {
    const id = new ObjectId();
    await req('POST', `${base}/documents`, { _id: id });
    const dup = await req('POST', `${base}/documents`, { _id: id });
    assert.equal(dup.status, 409);
    assert.equal(dup.json.error.code, 'DUPLICATE_KEY');
    assert.equal(dup.json.error.mongoCode, 11000);
  });

  it('streams changes over SSE and resumes after a token', async () => {
    const url = 'http://x/api/v1/databases/app/collections/feed/changes';
    const ac = new AbortController();
    const res = await server.app.fetch(new Request(url, { signal: ac.signal }));
    assert.equal(res.status, 200);
    const reader = res.body!.getReader();
    const dec = new TextDecoder();
    let buf = '';
    const nextEvent = async (type: string): Promise<{ id?: string; data: string }> => {
      for (;;) {
        const i = buf.indexOf('\n\n');
        if (i >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const ev: Record<string, string> = {};
          for (const line of block.split('\n')) {
            const k = line.indexOf(':');
            ev[line.slice(0, k)] = (ev[line.slice(0, k)] ?? '') + line.slice(k + 1).replace(/^ /, '');
          }
          if (ev['event'] === type) return ev as { id?: string; data: string };
          continue;
        }
        const { value, done } = await reader.read();
        if (done) throw new Error('stream ended');
        buf += dec.decode(value, { stream: true });
      }
    };
    await nextEvent('ready');
    await req('POST', 'http://x/api/v1/databases/app/collections/feed/documents', { n: 1 });
    await req('POST', 'http://x/api/v1/databases/app/collections/feed/documents', { n: 2 });
    const e1 = await nextEvent('change');
    assert.equal(EJSON.parse(e1.data).fullDocument.n, 1);
    assert.ok(e1.id);
    ac.abort();
    await reader.cancel().catch(() => {});
    // Reconnect with Last-Event-ID: the next event is n = 2.
    const res2 = await server.app.fetch(new Request(url, { headers: { 'last-event-id': e1.id! } }));
    const r2 = res2.body!.getReader();
    let text = '';
    while (!/event: change\ndata: .*\n(id: .*\n)?\n/.test(text)) {
      const { value, done } = await r2.read();
      if (done) throw new Error('stream ended');
      text += dec.decode(value);
    }
    const data = /event: change\ndata: (.*)\n/.exec(text)![1]!;
    assert.equal(EJSON.parse(data).fullDocument.n, 2);
    await r2.cancel();
    await server.closeStreams();
  });

  it('requires HTTP Basic credentials when users are configured (except /health)', async () => {
    const locked = createApp(client, { version: '1', runtime: 't', kernelBuild: 't', users: [{ user: 'admin', password: 'correct horse' }] });
    const get = (path: string, auth?: string) => locked.app.fetch(new Request(`http://x${path}`, auth ? { headers: { authorization: `Basic ${btoa(auth)}` } } : {}));
    assert.equal((await get('/health')).status, 200);
    assert.equal((await get('/api/v1/databases')).status, 401);
    assert.equal((await get('/metrics')).status, 401);
    assert.equal((await get('/api/v1/databases', 'admin:wrong')).status, 401);
    assert.equal((await get('/api/v1/databases', 'admin:correct horse')).status, 200);
  });

  it('counts operations in /metrics and logs slow queries', async () => {
    const m = await req('GET', 'http://x/metrics');
    assert.match(m.text, /largetable_operations_total\{api="rest",op="insert",result="ok"\} \d+/);
    assert.match(m.text, /largetable_operation_duration_seconds_bucket\{api="rest",op="find",le="\+Inf"\} \d+/);
    assert.match(m.text, /largetable_store\{key="walSyncs"\} \d+/);
    await new Promise((r) => setTimeout(r, 50));
    assert.ok(logs.some((l) => JSON.parse(l).msg === 'slow query' && JSON.parse(l).plan), 'a slow query line with a plan');
  });
});
