/**
 * A mongosh-style shell over any driver-shaped client: `show dbs`, `show collections`,
 * `use NAME`, and JavaScript statements with `db` bound to the current database, e.g.
 * `db.users.find({ age: { $gt: 30 } }).sort({ age: -1 })`. Promises are awaited; cursors print
 * their first 20 documents (`it` prints the next 20). The user's own statements run as
 * JavaScript, exactly as in mongosh: this is an operator tool, not a network surface.
 */
import { EJSON, ObjectId, Long, Decimal128, UUID } from 'bson';
import type { ClientLike, Doc } from '../server/engine.ts';
import { listDatabases } from '../server/engine.ts';
import type { CliHost } from './main.ts';

const pageSize = 20;

interface Cursorish {
  next(): Promise<Doc | null>;
  close?(): Promise<void>;
}

function isCursor(v: unknown): v is Cursorish {
  return !!v && typeof v === 'object' && typeof (v as Cursorish).next === 'function' && typeof (v as { toArray?: unknown }).toArray === 'function';
}

/** mongosh-like display: ObjectId('...'), ISODate('...'), Long('...'), unquoted simple keys. */
function show(v: unknown, indent: string): string {
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  if (typeof v === 'string') return JSON.stringify(v).replace(/^"|"$/g, "'").replace(/\\"/g, '"');
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (typeof v === 'bigint') return `Long('${v}')`;
  if (v instanceof Date) return `ISODate('${Number.isNaN(v.getTime()) ? 'Invalid Date' : v.toISOString()}')`;
  if (v instanceof ObjectId) return `ObjectId('${v.toHexString()}')`;
  if (v instanceof Long) return `Long('${v.toString()}')`;
  if (v instanceof Decimal128) return `Decimal128('${v.toString()}')`;
  if (v instanceof UUID) return `UUID('${v.toHexString()}')`;
  const inner = indent + '  ';
  if (Array.isArray(v)) {
    if (v.length === 0) return '[]';
    return `[\n${v.map((x) => inner + show(x, inner)).join(',\n')}\n${indent}]`;
  }
  if (typeof v === 'object') {
    const bsonType = (v as { _bsontype?: string })._bsontype;
    if (bsonType) return EJSON.stringify(v as Doc, { relaxed: true });
    const entries = Object.entries(v as Doc);
    if (entries.length === 0) return '{}';
    const key = (k: string): string => (/^[A-Za-z_$][\w$]*$/.test(k) ? k : `'${k}'`);
    return `{\n${entries.map(([k, x]) => `${inner}${key(k)}: ${show(x, inner)}`).join(',\n')}\n${indent}}`;
  }
  return String(v);
}

function format(v: unknown): string {
  if (v === undefined) return '';
  if (typeof v === 'string') return v;
  return show(v, '');
}

/** Run statements from `evalText` (then exit) or interactively from `host.readLine`. */
export async function runShell(client: ClientLike, host: CliHost, evalText?: string): Promise<number> {
  let dbName = 'test';
  let last: Cursorish | undefined;

  const dbProxy = (): unknown => {
    const db = client.db(dbName);
    return new Proxy(db as object, {
      get(target, prop, receiver) {
        if (typeof prop === 'symbol') return Reflect.get(target, prop, receiver);
        if (prop === 'getName') return () => dbName;
        if (prop === 'getCollectionNames') return async () => (await db.listCollections().toArray()).map((c) => c['name']);
        if (prop === 'getCollection') return (n: string) => db.collection(n);
        if (prop in target) {
          const v = Reflect.get(target, prop, receiver);
          return typeof v === 'function' ? v.bind(target) : v;
        }
        return db.collection(prop);
      },
    });
  };

  const printCursor = async (cur: Cursorish): Promise<void> => {
    const docs: Doc[] = [];
    for (let i = 0; i < pageSize; i++) {
      const d = await cur.next();
      if (!d) break;
      docs.push(d);
    }
    host.out(format(docs) + '\n');
    if (docs.length === pageSize) {
      last = cur;
      host.out('Type "it" for more\n');
    } else last = undefined;
  };

  const execute = async (line: string): Promise<boolean> => {
    const text = line.trim().replace(/;$/, '');
    if (!text) return true;
    if (text === 'exit' || text === 'quit' || text === 'exit()' || text === 'quit()') return false;
    if (text === 'it') {
      if (last) await printCursor(last);
      else host.out('no cursor\n');
      return true;
    }
    if (text === 'help') {
      host.out('show dbs | show collections | use NAME | db.COLL.find({...}) | db.COLL.insertOne({...}) | it | exit\n');
      return true;
    }
    const show = /^show\s+(\w+)$/.exec(text);
    if (show) {
      if (show[1] === 'dbs' || show[1] === 'databases') for (const d of await listDatabases(client)) host.out(`${String(d['name'])}\n`);
      else if (show[1] === 'collections' || show[1] === 'tables') for (const c of await client.db(dbName).listCollections().toArray()) host.out(`${String(c['name'])}\n`);
      else host.out(`unknown: show ${show[1]}\n`);
      return true;
    }
    const use = /^use\s+(\S+)$/.exec(text);
    if (use) {
      dbName = use[1]!;
      host.out(`switched to db ${dbName}\n`);
      return true;
    }
    // eslint-disable-next-line @typescript-eslint/no-implied-eval
    const fn = new Function('db', 'ObjectId', 'Long', 'NumberLong', 'Decimal128', 'UUID', 'ISODate', `return (${text});`) as (...a: unknown[]) => unknown;
    let value = fn(dbProxy(), (s?: string) => new ObjectId(s), Long, (n: number | string) => Long.fromString(String(n)), Decimal128, UUID, (s?: string) => (s ? new Date(s) : new Date()));
    if (isCursor(value)) {
      await printCursor(value);
      return true;
    }
    value = await value;
    if (isCursor(value)) await printCursor(value);
    else if (value !== undefined) host.out(format(value) + '\n');
    return true;
  };

  if (evalText !== undefined) {
    for (const stmt of evalText.split(/;\s*\n|\n/)) {
      try {
        if (!(await execute(stmt))) break;
      } catch (err) {
        host.err(`error: ${(err as Error).message}\n`);
        return 1;
      }
    }
    return 0;
  }
  if (!host.readLine) {
    host.err('no interactive input available; use --eval\n');
    return 2;
  }
  host.out(`largetable shell ${host.version} (${host.runtime}); "help" for commands\n`);
  for (;;) {
    const line = await host.readLine(`${dbName}> `);
    if (line === undefined) break;
    try {
      if (!(await execute(line))) break;
    } catch (err) {
      host.err(`error: ${(err as Error).message}\n`);
    }
  }
  return 0;
}
