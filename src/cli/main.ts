/**
 * `largetable` command line (runtime-free; the platform supplies a `CliHost`).
 *
 *   largetable serve | shell | import | export | dump | restore | stats | verify | compact | info
 *   largetable --version
 *
 * Exit codes: 0 success, 1 failure at run time (I/O, corruption, server error),
 * 2 usage error (unknown command or flag, bad value, bad configuration).
 * Arguments are parsed with citty; unknown flags are refused rather than ignored.
 */
import { parseArgs, renderUsage } from 'citty';
import type { ArgsDef, CommandDef } from 'citty';
import { EJSON } from 'bson';
import { isLargetableError, LargetableError } from '../errors.ts';
import { loadConfig } from '../config.ts';
import type { ServerConfig } from '../config.ts';
import type { ClientLike, Doc } from '../server/engine.ts';
import { createLogger } from '../server/log.ts';
import type { Logger } from '../server/log.ts';
import { storeOf } from '../server/engine.ts';
import { exportCollection, importCollection } from './transfer.ts';
import type { ImportFormat } from './transfer.ts';
import { dumpAll, restoreAll } from './dump.ts';
import { runShell } from './shell.ts';

export interface ByteSink {
  write(chunk: Uint8Array | string): Promise<void>;
  close(): Promise<void>;
}

export interface Progress {
  update(done: number): void;
  stop(): void;
}

export interface RunningServerInfo {
  host: string;
  port: number;
  mongoPort: number;
  close(): Promise<void>;
}

/** Everything runtime-specific the CLI needs. */
export interface CliHost {
  /** e.g. "node 20.20.2". */
  runtime: string;
  version: string;
  env: Record<string, string | undefined>;
  out(text: string): void;
  err(text: string): void;
  /** Kernel build in use and whether wasm SIMD validates here. */
  kernelInfo(): Promise<{ build: string; simd: boolean; source: string }>;
  /** Text of a file, or undefined when it does not exist. */
  readText(path: string): Promise<string | undefined>;
  fileSize(path: string): Promise<number>;
  /** Chunks of a file (streaming). */
  readChunks(path: string): AsyncIterable<Uint8Array>;
  /** A file writer ("-" is stdout). */
  createWriter(path: string): Promise<ByteSink>;
  /** Open an embedded database (a directory, memory:, ...). */
  /** Open an embedded database; `options` are client options (memory budgets for `serve`). */
  open(location: string, options?: Record<string, unknown>): Promise<ClientLike>;
  /** Connect to a server (mongodb://...). */
  connect?(url: string): Promise<ClientLike>;
  serve(config: ServerConfig, client: ClientLike | undefined, logger: Logger): Promise<RunningServerInfo>;
  /** Run `handler` once on SIGINT/SIGTERM. */
  onShutdown(handler: (signal: string) => Promise<void>): void;
  progress(total: number, label: string): Progress;
  /** Line-oriented prompt with history; resolves undefined at end of input. */
  readLine?(prompt: string): Promise<string | undefined>;
  stdinIsTTY?: boolean;
}

/** A usage error: exit code 2. */
class UsageError extends Error {}

interface Command {
  description: string;
  args: ArgsDef;
  run(args: Record<string, unknown>, host: CliHost): Promise<number>;
}

const dataArg = { type: 'string', description: 'data directory (or memory:)', default: './data' } as const;

function str(args: Record<string, unknown>, name: string): string | undefined {
  const v = args[name];
  if (v === undefined || v === '' || v === false) return undefined;
  if (typeof v !== 'string') throw new UsageError(`--${name} expects a value`);
  return v;
}

function need(args: Record<string, unknown>, name: string): string {
  const v = str(args, name);
  if (v === undefined) throw new UsageError(`--${name} is required`);
  return v;
}

function splitNs(ns: string): [string, string] {
  const i = ns.indexOf('.');
  if (i <= 0 || i === ns.length - 1) throw new UsageError(`expected DB.COLLECTION, got ${JSON.stringify(ns)}`);
  return [ns.slice(0, i), ns.slice(i + 1)];
}

function print(host: CliHost, value: unknown): void {
  host.out(EJSON.stringify(value, undefined, 2, { relaxed: true }) + '\n');
}

async function withClient<T>(host: CliHost, location: string, run: (c: ClientLike) => Promise<T>): Promise<T> {
  const client = /^mongodb(\+srv)?:\/\//.test(location)
    ? await (host.connect ?? (() => Promise.reject(new LargetableError('NOT_SUPPORTED', 'connecting to a server is not available here'))))(location)
    : await host.open(location);
  try {
    return await run(client);
  } finally {
    await client.close();
  }
}

const commands: Record<string, Command> = {
  serve: {
    description: 'Run the HTTP server, web console and MongoDB wire protocol listener',
    args: {
      data: { type: 'string', description: 'data directory (default ./data)' },
      host: { type: 'string', description: 'bind address (default 127.0.0.1)' },
      port: { type: 'string', description: 'HTTP port (default 8080, 0 = any free port)' },
      'mongo-port': { type: 'string', description: 'MongoDB wire port (default 27017, 0 = any, off = none)' },
      config: { type: 'string', description: 'configuration file (default ./largetable.toml if present)' },
      'log-level': { type: 'string', description: 'debug | info | warn | error | silent' },
      'slow-query-ms': { type: 'string', description: 'log operations slower than this' },
      'body-limit-bytes': { type: 'string', description: 'largest HTTP request body' },
      'memtable-bytes': { type: 'string', description: 'memtable size before a flush (default 32 MiB; up to 3 in memory)' },
      'block-cache-bytes': { type: 'string', description: 'storage block cache budget (default 32 MiB)' },
      'document-cache-bytes': { type: 'string', description: 'document cache budget (default 32 MiB, 0 = off)' },
    },
    async run(args, host) {
      const configPath = str(args, 'config');
      const toml = await host.readText(configPath ?? 'largetable.toml');
      if (configPath && toml === undefined) throw new LargetableError('BAD_CONFIG', `invalid configuration: --config: file not found: ${configPath}`);
      const config = loadConfig({
        ...(toml !== undefined ? { toml, tomlName: configPath ?? 'largetable.toml' } : {}),
        env: host.env,
        flags: {
          data: str(args, 'data'), host: str(args, 'host'), port: str(args, 'port'), mongoPort: str(args, 'mongo-port'),
          logLevel: str(args, 'log-level'), slowQueryMs: str(args, 'slow-query-ms'), bodyLimitBytes: str(args, 'body-limit-bytes'),
          memtableBytes: str(args, 'memtable-bytes'), blockCacheBytes: str(args, 'block-cache-bytes'), documentCacheBytes: str(args, 'document-cache-bytes'),
        },
      });
      const logger = createLogger(config.logLevel, (line) => host.err(line + '\n'));
      let client: ClientLike | undefined;
      try {
        client = await host.open(config.data, {
          memtableSizeBytes: config.memtableBytes, blockCacheSizeBytes: config.blockCacheBytes, documentCacheBytes: config.documentCacheBytes,
        });
      } catch (err) {
        // A build without the document layer still serves /health and the console.
        if (!isLargetableError(err, 'NOT_SUPPORTED')) throw err;
        logger.warn('serving without a database', { reason: err.message });
      }
      let server: RunningServerInfo;
      try {
        server = await host.serve(config, client, logger);
      } catch (err) {
        await client?.close().catch(() => {});
        throw err;
      }
      const ready = { ready: true, http: `http://${server.host}:${server.port}`, port: server.port, mongoPort: server.mongoPort, data: config.data, version: host.version, runtime: host.runtime };
      host.out(JSON.stringify(ready) + '\n');
      logger.info('listening', ready);
      await new Promise<void>((resolve) => {
        host.onShutdown(async (signal) => {
          logger.info('shutting down', { signal });
          try {
            await server.close();
            await client?.close();
            logger.info('stopped', { signal });
          } catch (err) {
            logger.error('shutdown failed', { err });
          }
          resolve();
        });
      });
      return 0;
    },
  },
  info: {
    description: 'Print version, runtime and the kernel build (SIMD or scalar)',
    args: {},
    async run(_args, host) {
      const k = await host.kernelInfo();
      print(host, { name: 'largetable', version: host.version, runtime: host.runtime, kernel: k.build, simd: k.simd, build: k.source });
      return 0;
    },
  },
  shell: {
    description: 'Interactive shell (mongosh style) on a data directory or a mongodb:// URL',
    args: {
      target: { type: 'positional', description: 'data directory or mongodb:// URL', required: false },
      eval: { type: 'string', description: 'run these statements and exit' },
      json: { type: 'boolean', description: 'print Extended JSON (one value or document per line) instead of mongosh style' },
    },
    async run(args, host) {
      const target = str(args, 'target') ?? './data';
      return withClient(host, target, (client) => runShell(client, host, str(args, 'eval'), { json: args['json'] === true }));
    },
  },
  import: {
    description: 'Import JSON Lines, a JSON array or CSV into a collection',
    args: {
      ns: { type: 'positional', description: 'DB.COLLECTION', required: true },
      file: { type: 'string', description: 'input file', required: true },
      format: { type: 'string', description: 'jsonl | json | csv (default: from the file extension)' },
      data: dataArg,
      'batch-size': { type: 'string', description: 'documents per insertMany (default 1000)' },
      quiet: { type: 'boolean', description: 'no progress bar' },
    },
    async run(args, host) {
      const [db, coll] = splitNs(need(args, 'ns'));
      const file = need(args, 'file');
      const format = formatOf(str(args, 'format'), file);
      const batch = Number(str(args, 'batch-size') ?? 1000);
      if (!Number.isInteger(batch) || batch < 1 || batch > 100_000) throw new UsageError('--batch-size must be an integer in [1, 100000]');
      const size = await host.fileSize(file);
      const bar = args['quiet'] ? undefined : host.progress(size, `import ${db}.${coll}`);
      const n = await withClient(host, need(args, 'data'), (client) =>
        importCollection(client.db(db).collection(coll), host.readChunks(file), format, { batchSize: batch, ...(bar ? { onBytes: (b: number) => bar.update(b) } : {}) }),
      ).finally(() => bar?.stop());
      host.err(`imported ${n} document(s) into ${db}.${coll}\n`);
      return 0;
    },
  },
  export: {
    description: 'Export a collection as JSON Lines, a JSON array or CSV',
    args: {
      ns: { type: 'positional', description: 'DB.COLLECTION', required: true },
      out: { type: 'string', description: 'output file (default: stdout)' },
      format: { type: 'string', description: 'jsonl | json | csv (default: from the file extension, else jsonl)' },
      filter: { type: 'string', description: 'Extended JSON filter' },
      fields: { type: 'string', description: 'comma-separated CSV columns (default: from the documents)' },
      data: dataArg,
    },
    async run(args, host) {
      const [db, coll] = splitNs(need(args, 'ns'));
      const out = str(args, 'out') ?? '-';
      const format = formatOf(str(args, 'format'), out === '-' ? 'x.jsonl' : out);
      let filter: Doc = {};
      const f = str(args, 'filter');
      if (f) {
        try {
          filter = EJSON.parse(f, { relaxed: true }) as Doc;
        } catch (err) {
          throw new UsageError(`--filter is not valid Extended JSON: ${(err as Error).message}`);
        }
      }
      const fields = str(args, 'fields')?.split(',').map((s) => s.trim()).filter(Boolean);
      const sink = await host.createWriter(out);
      const n = await withClient(host, need(args, 'data'), (client) =>
        exportCollection(client.db(db).collection(coll), sink, format, { filter, ...(fields ? { fields } : {}) }),
      ).finally(() => sink.close());
      host.err(`exported ${n} document(s) from ${db}.${coll}\n`);
      return 0;
    },
  },
  dump: {
    description: 'Write every database to one compressed snapshot file',
    args: { out: { type: 'string', description: 'output file (.ltdump)', required: true }, data: dataArg },
    async run(args, host) {
      const sink = await host.createWriter(need(args, 'out'));
      const r = await withClient(host, need(args, 'data'), (client) => dumpAll(client, sink)).finally(() => sink.close());
      host.err(`dumped ${r.documents} document(s) in ${r.collections} collection(s)\n`);
      return 0;
    },
  },
  restore: {
    description: 'Load a snapshot written by dump',
    args: {
      file: { type: 'positional', description: 'snapshot file', required: true },
      data: dataArg,
      drop: { type: 'boolean', description: 'drop each collection before restoring it' },
    },
    async run(args, host) {
      const file = need(args, 'file');
      const r = await withClient(host, need(args, 'data'), (client) => restoreAll(client, host.readChunks(file), { drop: args['drop'] === true }));
      host.err(`restored ${r.documents} document(s) in ${r.collections} collection(s)\n`);
      return 0;
    },
  },
  stats: {
    description: 'Print databases, collections, document counts and storage statistics',
    args: { data: dataArg },
    async run(args, host) {
      await withClient(host, need(args, 'data'), async (client) => {
        const { listDatabases } = await import('../server/engine.ts');
        const out: Doc = { databases: [] as Doc[] };
        for (const d of await listDatabases(client)) {
          const name = String(d['name']);
          const colls: Doc[] = [];
          for (const c of await client.db(name).listCollections().toArray()) {
            const col = client.db(name).collection(String(c['name']));
            colls.push({ name: c['name'], count: await col.countDocuments({}), indexes: (await col.listIndexes().toArray()).length });
          }
          (out['databases'] as Doc[]).push({ name, collections: colls });
        }
        const store = storeOf(client)?.stats?.();
        if (store !== undefined) out['store'] = store;
        print(host, out);
      });
      return 0;
    },
  },
  verify: {
    description: 'Check every checksum in the data directory',
    args: { data: dataArg },
    async run(args, host) {
      return withClient(host, need(args, 'data'), async (client) => {
        const store = storeOf(client);
        if (typeof store?.verify !== 'function') throw new LargetableError('NOT_SUPPORTED', 'verify is not available for this store');
        const report = await store.verify();
        print(host, report);
        return report.ok ? 0 : 1;
      });
    },
  },
  compact: {
    description: 'Compact the store (merge segments, drop deleted data)',
    args: { data: dataArg },
    async run(args, host) {
      return withClient(host, need(args, 'data'), async (client) => {
        const store = storeOf(client);
        if (typeof store?.compact !== 'function') throw new LargetableError('NOT_SUPPORTED', 'compact is not available for this store');
        await store.compact();
        host.err('compacted\n');
        return 0;
      });
    },
  },
};

function formatOf(explicit: string | undefined, file: string): ImportFormat {
  const f = explicit ?? (file.endsWith('.csv') ? 'csv' : file.endsWith('.json') ? 'json' : 'jsonl');
  if (f !== 'jsonl' && f !== 'json' && f !== 'csv') throw new UsageError(`--format must be jsonl, json or csv, got ${JSON.stringify(f)}`);
  return f;
}

const kebab = (s: string): string => s.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());

function checkFlags(parsed: Record<string, unknown>, def: ArgsDef, raw: string[]): void {
  const known = new Set<string>(['help', 'h']);
  for (const [name, a] of Object.entries(def)) {
    known.add(name);
    const alias = (a as { alias?: string | string[] }).alias;
    for (const al of Array.isArray(alias) ? alias : alias ? [alias] : []) known.add(al);
  }
  for (const key of Object.keys(parsed)) {
    if (key === '_' || known.has(key) || known.has(kebab(key))) continue;
    if (def[key]?.type === 'positional') continue;
    throw new UsageError(`unknown option --${kebab(key)}`);
  }
  // Flags given without a value where one is required.
  for (const tok of raw) {
    if (!tok.startsWith('--')) continue;
    const name = tok.slice(2).split('=')[0]!;
    if (def[name]?.type === 'string' && parsed[name] === true) throw new UsageError(`--${name} expects a value`);
  }
}

async function usage(host: CliHost, name?: string): Promise<void> {
  if (name && commands[name]) {
    const c = commands[name];
    const def: CommandDef = { meta: { name: `largetable ${name}`, description: c.description }, args: c.args };
    host.out((await renderUsage(def)) + '\n');
    return;
  }
  const lines = [`largetable ${'v'}${host.version}: embeddable document and vector database`, '', 'usage: largetable <command> [options]', ''];
  for (const [n, c] of Object.entries(commands)) lines.push(`  ${n.padEnd(9)} ${c.description}`);
  lines.push('', 'largetable <command> --help for its options; largetable --version');
  host.out(lines.join('\n') + '\n');
}

/** Run the CLI with `argv` (without the program name); returns the exit code. */
export async function main(argv: string[], host: CliHost): Promise<number> {
  const [first, ...rest] = argv;
  if (first === '--version' || first === '-v' || first === 'version') {
    host.out(`${host.version}\n`);
    return 0;
  }
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    await usage(host, rest[0]);
    return first === undefined ? 2 : 0;
  }
  const cmd = commands[first];
  try {
    if (!cmd) throw new UsageError(`unknown command ${JSON.stringify(first)} (try largetable --help)`);
    if (rest.includes('--help') || rest.includes('-h')) {
      await usage(host, first);
      return 0;
    }
    const parsed = parseArgs(rest, cmd.args) as Record<string, unknown>;
    checkFlags(parsed, cmd.args, rest);
    for (const [name, a] of Object.entries(cmd.args)) {
      if ((a as { required?: boolean }).required && (parsed[name] === undefined || parsed[name] === '')) {
        throw new UsageError(a.type === 'positional' ? `missing argument <${name}>` : `--${name} is required`);
      }
    }
    return await cmd.run(parsed, host);
  } catch (err) {
    if (err instanceof UsageError) {
      host.err(`largetable: ${err.message}\n`);
      return 2;
    }
    if (isLargetableError(err)) {
      const hint = err.code === 'LOCKED' ? ' (a running server owns it: stop it, or pass --data mongodb://127.0.0.1:PORT to go through it)' : '';
      host.err(`largetable: ${err.code}: ${err.message}${hint}\n`);
      return err.code === 'BAD_CONFIG' || err.code === 'INVALID_ARGUMENT' ? 2 : 1;
    }
    host.err(`largetable: ${(err as Error)?.message ?? String(err)}\n`);
    return 1;
  }
}
