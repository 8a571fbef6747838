/**
 * Server configuration: `largetable.toml` (smol-toml), then environment variables, then flags,
 * each layer overriding the one before. Every value is validated; a bad value throws
 * `LargetableError(BAD_CONFIG)` whose message names the offending key (`server.port`,
 * `LARGETABLE_PORT`, `--port`, ...). Runtime-free: the caller reads the file and the env.
 */
import { parse as parseToml } from 'smol-toml';
import { LargetableError } from './errors.ts';
import { requestBodyBytesDefault, requestBodyBytesMax, slowQueryMsDefault } from './limits.ts';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
export const logLevels: readonly LogLevel[] = ['debug', 'info', 'warn', 'error', 'silent'];

export interface AuthUser {
  user: string;
  password: string;
}

export interface ServerConfig {
  /** Data directory (or `memory:`). */
  data: string;
  host: string;
  /** HTTP port; 0 picks a free port. */
  port: number;
  /** MongoDB wire protocol port; 0 picks a free port; -1 (or "off") disables it. */
  mongoPort: number;
  bodyLimitBytes: number;
  logLevel: LogLevel;
  /** Operations slower than this are logged with their plan. */
  slowQueryMs: number;
  users: AuthUser[];
  /** Memtable size before a flush (the engine keeps up to 1 + immutableMemtablesMax of them). */
  memtableBytes: number;
  /** Storage block cache budget. */
  blockCacheBytes: number;
  /** Document cache budget (0 disables it). */
  documentCacheBytes: number;
}

/**
 * The server's memory budgets (docs/ARCHITECTURE.md, "Server"): RSS stays below about
 * runtime (~100-130 MB) + memtables (active + up to 2 being flushed) + block cache + document cache,
 * i.e. ~100-130 + 3 x 32 + 32 + 32 MB by default. Configurable in [storage], env and flags.
 */
export const serverMemtableBytesDefault = 32 * 1024 * 1024;
export const serverBlockCacheBytesDefault = 32 * 1024 * 1024;
export const serverDocumentCacheBytesDefault = 32 * 1024 * 1024;
const budgetBytesMax = 64 * 1024 * 1024 * 1024;

export const defaultConfig: Readonly<ServerConfig> = Object.freeze({
  data: './data',
  host: '127.0.0.1',
  port: 8080,
  mongoPort: 27017,
  bodyLimitBytes: requestBodyBytesDefault,
  logLevel: 'info' as LogLevel,
  slowQueryMs: slowQueryMsDefault,
  users: [],
  memtableBytes: serverMemtableBytesDefault,
  blockCacheBytes: serverBlockCacheBytesDefault,
  documentCacheBytes: serverDocumentCacheBytesDefault,
});

/** The TOML layout: `[server]`, `[log]`, `[auth]`, `[storage]`. Keys are snake_case. */
const tomlKeys: Record<string, Record<string, keyof ServerConfig>> = {
  server: { data: 'data', host: 'host', port: 'port', mongo_port: 'mongoPort', body_limit_bytes: 'bodyLimitBytes' },
  log: { level: 'logLevel', slow_query_ms: 'slowQueryMs' },
  auth: { users: 'users' },
  storage: { memtable_bytes: 'memtableBytes', block_cache_bytes: 'blockCacheBytes', document_cache_bytes: 'documentCacheBytes' },
};

/** Environment variables read by `loadConfig`. */
export const envKeys: Record<string, keyof ServerConfig> = {
  LARGETABLE_DATA: 'data',
  LARGETABLE_HOST: 'host',
  LARGETABLE_PORT: 'port',
  LARGETABLE_MONGO_PORT: 'mongoPort',
  LARGETABLE_BODY_LIMIT_BYTES: 'bodyLimitBytes',
  LARGETABLE_LOG_LEVEL: 'logLevel',
  LARGETABLE_SLOW_QUERY_MS: 'slowQueryMs',
  LARGETABLE_MEMTABLE_BYTES: 'memtableBytes',
  LARGETABLE_BLOCK_CACHE_BYTES: 'blockCacheBytes',
  LARGETABLE_DOCUMENT_CACHE_BYTES: 'documentCacheBytes',
};

/** Flags (camelCase as citty gives them, or kebab-case). */
const flagKeys: Record<string, keyof ServerConfig> = {
  data: 'data', host: 'host', port: 'port', mongoPort: 'mongoPort', 'mongo-port': 'mongoPort',
  bodyLimitBytes: 'bodyLimitBytes', 'body-limit-bytes': 'bodyLimitBytes',
  logLevel: 'logLevel', 'log-level': 'logLevel', slowQueryMs: 'slowQueryMs', 'slow-query-ms': 'slowQueryMs',
  memtableBytes: 'memtableBytes', 'memtable-bytes': 'memtableBytes', blockCacheBytes: 'blockCacheBytes', 'block-cache-bytes': 'blockCacheBytes',
  documentCacheBytes: 'documentCacheBytes', 'document-cache-bytes': 'documentCacheBytes',
};

function bad(key: string, message: string): never {
  throw new LargetableError('BAD_CONFIG', `invalid configuration: ${key}: ${message}`, { details: { key } });
}

function intIn(key: string, raw: unknown, min: number, max: number): number {
  let n: number;
  if (typeof raw === 'number') n = raw;
  else if (typeof raw === 'bigint') n = Number(raw);
  else if (typeof raw === 'string' && /^-?\d+$/.test(raw.trim())) n = Number(raw.trim());
  else return bad(key, `expected an integer, got ${JSON.stringify(String(raw))}`);
  if (!Number.isInteger(n) || n < min || n > max) return bad(key, `expected an integer in [${min}, ${max}], got ${n}`);
  return n;
}

function str(key: string, raw: unknown): string {
  if (typeof raw !== 'string' || raw.length === 0) return bad(key, 'expected a non-empty string');
  return raw;
}

function setField(cfg: ServerConfig, field: keyof ServerConfig, key: string, raw: unknown): void {
  switch (field) {
    case 'data': cfg.data = str(key, raw); break;
    case 'host': {
      const h = str(key, raw);
      if (!/^[A-Za-z0-9.:\-\[\]]+$/.test(h)) bad(key, `not a host name or address: ${JSON.stringify(h)}`);
      cfg.host = h;
      break;
    }
    case 'port': cfg.port = intIn(key, raw, 0, 65535); break;
    case 'mongoPort': cfg.mongoPort = raw === 'off' || raw === false ? -1 : intIn(key, raw, -1, 65535); break;
    case 'bodyLimitBytes': cfg.bodyLimitBytes = intIn(key, raw, 1024, requestBodyBytesMax); break;
    case 'slowQueryMs': cfg.slowQueryMs = intIn(key, raw, 0, 3_600_000); break;
    case 'memtableBytes': cfg.memtableBytes = intIn(key, raw, 1024 * 1024, budgetBytesMax); break;
    case 'blockCacheBytes': cfg.blockCacheBytes = intIn(key, raw, 0, budgetBytesMax); break;
    case 'documentCacheBytes': cfg.documentCacheBytes = intIn(key, raw, 0, budgetBytesMax); break;
    case 'logLevel': {
      const v = str(key, raw);
      if (!(logLevels as readonly string[]).includes(v)) bad(key, `expected one of ${logLevels.join(', ')}, got ${JSON.stringify(v)}`);
      cfg.logLevel = v as LogLevel;
      break;
    }
    case 'users': {
      if (!Array.isArray(raw)) bad(key, 'expected an array of { user, password } tables');
      cfg.users = raw.map((u, i) => {
        if (typeof u !== 'object' || u === null) return bad(`${key}[${i}]`, 'expected a table { user, password }');
        const rec = u as Record<string, unknown>;
        for (const k of Object.keys(rec)) if (k !== 'user' && k !== 'password') bad(`${key}[${i}].${k}`, 'unknown key');
        const user = str(`${key}[${i}].user`, rec['user']);
        const password = str(`${key}[${i}].password`, rec['password']);
        if (password.length < 8) bad(`${key}[${i}].password`, 'must be at least 8 characters');
        return { user, password };
      });
      break;
    }
  }
}

export interface ConfigSources {
  /** Text of largetable.toml, if one was found. */
  toml?: string;
  /** Name of the TOML file, used in messages. */
  tomlName?: string;
  env?: Record<string, string | undefined>;
  /** Parsed command-line flags; undefined values are ignored. */
  flags?: Record<string, unknown>;
}

/** Merge defaults, TOML, env and flags into a validated ServerConfig. */
export function loadConfig(sources: ConfigSources = {}): ServerConfig {
  const cfg: ServerConfig = { ...defaultConfig, users: [] };
  if (sources.toml !== undefined) {
    const file = sources.tomlName ?? 'largetable.toml';
    let doc: Record<string, unknown>;
    try {
      doc = parseToml(sources.toml) as Record<string, unknown>;
    } catch (err) {
      throw new LargetableError('BAD_CONFIG', `invalid configuration: ${file}: ${(err as Error).message}`, { cause: err, details: { key: file } });
    }
    for (const [section, value] of Object.entries(doc)) {
      const keys = tomlKeys[section];
      if (!keys) bad(section, `unknown section [${section}] in ${file} (known: ${Object.keys(tomlKeys).join(', ')})`);
      if (typeof value !== 'object' || value === null || Array.isArray(value)) bad(section, 'expected a table');
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        const field = keys[k];
        if (!field) bad(`${section}.${k}`, `unknown key in ${file} (known: ${Object.keys(keys).join(', ')})`);
        setField(cfg, field, `${section}.${k}`, v);
      }
    }
  }
  for (const [name, field] of Object.entries(envKeys)) {
    const v = sources.env?.[name];
    if (v !== undefined && v !== '') setField(cfg, field, name, v);
  }
  for (const [k, v] of Object.entries(sources.flags ?? {})) {
    if (v === undefined) continue;
    const field = flagKeys[k];
    if (field) setField(cfg, field, `--${k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())}`, v);
  }
  checkBindSafety(cfg);
  return cfg;
}

const loopbackHosts = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

/** True when `host` only accepts connections from this machine. */
export function isLoopback(host: string): boolean {
  return loopbackHosts.has(host) || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** Refuse a non-loopback bind address until users are configured. */
export function checkBindSafety(cfg: ServerConfig): void {
  if (!isLoopback(cfg.host) && cfg.users.length === 0) {
    throw new LargetableError(
      'BAD_CONFIG',
      `invalid configuration: host: refusing to listen on ${cfg.host} without users; ` +
        'configure [auth] users = [{ user = "...", password = "..." }] in largetable.toml, or bind 127.0.0.1',
      { details: { key: 'host' } },
    );
  }
}
