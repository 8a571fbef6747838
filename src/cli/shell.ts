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
  if (typeof v === 'function') return '[Function]';
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

/** One line of Extended JSON (relaxed) for `--json`. */
function formatJson(v: unknown): string {
  if (v === undefined) return '';
  return EJSON.stringify(v as Doc, { relaxed: true });
}

export interface ShellOptions {
  /** Print Extended JSON (one value, or one document of a cursor, per line) instead of mongosh style. */
  json?: boolean;
}

type AnyFn = (...a: unknown[]) => unknown;

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return !!v && (typeof v === 'object' || typeof v === 'function') && typeof (v as { then?: unknown }).then === 'function';
}

/**
 * mongosh awaits implicitly: `db.c.getIndexes().length`, `db.c.find().explain().queryPlanner`.
 * A promise becomes a proxy whose property reads and calls chain on its result; a cursor's
 * methods pass their results through the same wrapping.
 */
function auto(v: unknown): unknown {
  if (isThenable(v)) return chain(Promise.resolve(v));
  if (isCursor(v)) {
    return new Proxy(v as object, {
      get(target, prop, receiver) {
        const x = Reflect.get(target, prop, receiver);
        return typeof x === 'function' && typeof prop === 'string' ? (...a: unknown[]) => auto((x as AnyFn).apply(target, a)) : x;
      },
    });
  }
  return v;
}

function chain(p: Promise<unknown>): unknown {
  return new Proxy(function chained() {}, {
    get(_t, prop) {
      if (prop === 'then' || prop === 'catch' || prop === 'finally') {
        const m = (p as unknown as Record<string, AnyFn>)[prop]!;
        return m.bind(p);
      }
      if (typeof prop === 'symbol') return undefined;
      return chain(p.then((x) => {
        const v = x === null || x === undefined ? undefined : (x as Record<string, unknown>)[prop];
        return typeof v === 'function' ? v.bind(x) : v;
      }));
    },
    apply(_t, _this, args: unknown[]) {
      return chain(p.then((f) => {
        if (typeof f !== 'function') throw new TypeError('not a function');
        return auto((f as AnyFn)(...args));
      }));
    },
  });
}

/** `const x = ...` at the start of a statement becomes a shell variable that later statements see. */
const declaration = /^(?:const|let|var)\s+([A-Za-z_$][\w$]*)\s*=/;

// eslint-disable-next-line @typescript-eslint/no-empty-function
const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor as new (...args: string[]) => (...a: unknown[]) => Promise<unknown>;

/** Run statements from `evalText` (then exit) or interactively from `host.readLine`. */
export async function runShell(client: ClientLike, host: CliHost, evalText?: string, options: ShellOptions = {}): Promise<number> {
  let dbName = 'test';
  let last: Cursorish | undefined;
  const fmt = options.json ? formatJson : format;
  const scope: Record<string, unknown> = Object.create(null) as Record<string, unknown>;

  const collectionProxy = (name: string, col: object, dbOf: () => unknown): unknown => new Proxy(col, {
    get(target, prop, receiver) {
      if (typeof prop === 'symbol') return Reflect.get(target, prop, receiver);
      const c = target as Record<string, unknown>;
      const call = (m: string, ...a: unknown[]): unknown => (c[m] as AnyFn).apply(target, a);
      const r = helper();
      return typeof r === 'function' ? (...a: unknown[]) => auto((r as AnyFn)(...a)) : r;
      function helper(): unknown {
      switch (prop) {
        case 'getName': return () => name;
        case 'getFullName': return () => `${(dbOf() as { getName(): string }).getName()}.${name}`;
        case 'getIndexes': return async () => (call('listIndexes') as { toArray(): Promise<Doc[]> }).toArray();
        case 'count': return (filter: Doc = {}, opts: Doc = {}) => call('countDocuments', filter, opts);
        case 'stats':
          if (typeof c['stats'] === 'function') return () => call('stats');
          return () => (dbOf() as { runCommand(c: Doc): Promise<Doc> }).runCommand({ collStats: name });
        case 'explain':
          return (verbosity = 'queryPlanner') => ({
            find: (filter: Doc = {}, projection?: Doc) => auto((call('find', filter, projection ? { projection } : {}) as { explain(v: string): Promise<Doc> }).explain(verbosity)),
            aggregate: (pipeline: Doc[] = []) => auto((call('aggregate', pipeline) as { explain(v: string): Promise<Doc> }).explain(verbosity)),
            count: (filter: Doc = {}) => auto((call('find', filter) as { explain(v: string): Promise<Doc> }).explain(verbosity)),
          });
        default: {
          const v = Reflect.get(target, prop, receiver);
          return typeof v === 'function' ? v.bind(target) : v;
        }
      }
      }
    },
  });

  const dbProxy = (name: string): unknown => {
    const db = client.db(name);
    const self: unknown = new Proxy(db as object, {
      get(target, prop, receiver) {
        if (typeof prop === 'symbol') return Reflect.get(target, prop, receiver);
        const d = target as Record<string, unknown>;
        const r = helper();
        return typeof r === 'function' ? (...a: unknown[]) => auto((r as AnyFn)(...a)) : r;
        function helper(): unknown {
        switch (prop) {
          case 'getName': return () => name;
          case 'getSiblingDB': return (n: string) => dbProxy(String(n));
          case 'getMongo': return () => ({ getDB: (n: string) => dbProxy(String(n)), getDBNames: async () => (await listDatabases(client)).map((x) => x['name']) });
          case 'getCollectionNames': return async () => (await db.listCollections().toArray()).map((c) => c['name']).sort();
          case 'getCollectionInfos': return async (filter: Doc = {}) => db.listCollections(filter).toArray();
          case 'getCollection': return (n: string) => collectionProxy(String(n), db.collection(String(n)) as object, () => self);
          case 'createCollection': return (n: string, o: Doc = {}) => (d['createCollection'] as AnyFn).call(target, n, o);
          case 'dropDatabase': return () => db.dropDatabase();
          case 'runCommand':
          case 'adminCommand':
            return (cmd: Doc | string) => {
              const c = typeof cmd === 'string' ? { [cmd]: 1 } : cmd;
              const on = prop === 'adminCommand' ? client.db('admin') : db;
              return (on as unknown as { command(c: Doc): Promise<Doc> }).command(c);
            };
          case 'stats':
            if (typeof d['stats'] === 'function') return () => (d['stats'] as AnyFn).call(target);
            return () => (db as unknown as { command(c: Doc): Promise<Doc> }).command({ dbStats: 1 });
          default:
            if (prop in target) {
              const v = Reflect.get(target, prop, receiver);
              return typeof v === 'function' ? v.bind(target) : v;
            }
            return collectionProxy(String(prop), db.collection(String(prop)) as object, () => self);
        }
        }
      },
    });
    return self;
  };

  const printCursor = async (cur: Cursorish): Promise<void> => {
    const docs: Doc[] = [];
    for (let i = 0; i < pageSize; i++) {
      const d = await cur.next();
      if (!d) break;
      docs.push(d);
    }
    if (options.json) {
      for (const d of docs) host.out(formatJson(d) + '\n');
    } else host.out(format(docs) + '\n');
    if (docs.length === pageSize) {
      last = cur;
      if (!options.json) host.out('Type "it" for more\n');
    } else last = undefined;
  };

  const globals: Record<string, unknown> = {
    ObjectId: (s?: string) => new ObjectId(s),
    Long,
    NumberLong: (n: number | string) => Long.fromString(String(n)),
    NumberInt: (n: number | string) => Number.parseInt(String(n), 10) | 0,
    Decimal128,
    NumberDecimal: (s: string) => Decimal128.fromString(String(s)),
    UUID: (s?: string) => (s ? new UUID(s) : new UUID()),
    ISODate: (s?: string) => (s ? new Date(s) : new Date()),
    print: async (...a: unknown[]) => {
      const vs = await Promise.all(a);
      host.out(vs.map((x) => (typeof x === 'string' ? x : fmt(x))).join(' ') + '\n');
    },
    printjson: async (x: unknown) => {
      host.out(fmt(await x) + '\n');
    },
  };
  const globalNames = Object.keys(globals);

  const compile = (body: string): ((...a: unknown[]) => Promise<unknown>) =>
    new AsyncFunction('__scope', 'db', ...globalNames, `with (__scope) { ${body} }`);

  const evaluate = async (text: string): Promise<unknown> => {
    const decl = declaration.exec(text);
    let fn: (...a: unknown[]) => Promise<unknown>;
    if (decl) {
      fn = compile(`return (__scope[${JSON.stringify(decl[1])}] = (${text.slice(decl[0].length)}));`);
      await fn(scope, dbProxy(dbName), ...Object.values(globals));
      return undefined;
    }
    try {
      fn = compile(`return (${text});`);
    } catch (err) {
      if (!(err instanceof SyntaxError)) throw err;
      fn = compile(text);
    }
    return fn(scope, dbProxy(dbName), ...Object.values(globals));
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
      host.out('show dbs | show collections | use NAME | db.COLL.find({...}) | db.COLL.insertOne({...}) | db.getSiblingDB(NAME) | it | exit\n');
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
    const value = await evaluate(text);
    if (isCursor(value)) await printCursor(value);
    else if (value !== undefined) host.out(fmt(value) + '\n');
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
