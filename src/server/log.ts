/**
 * Structured JSON logs, one object per line: {"t": ISO time, "level", "msg", ...fields}.
 * The sink is supplied by the platform (stderr on Node and Deno); tests pass an array sink.
 */
import type { LogLevel } from '../config.ts';

const rank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export interface Logger {
  readonly level: LogLevel;
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

function safe(_k: string, v: unknown): unknown {
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof Error) return { name: v.name, message: v.message, code: (v as { code?: unknown }).code };
  return v;
}

/** A logger writing JSON lines at `level` and above to `sink`. */
export function createLogger(level: LogLevel, sink: (line: string) => void): Logger {
  const min = rank[level];
  const emit = (lvl: Exclude<LogLevel, 'silent'>, msg: string, fields?: Record<string, unknown>): void => {
    if (rank[lvl] < min) return;
    let line: string;
    try {
      line = JSON.stringify({ t: new Date().toISOString(), level: lvl, msg, ...fields }, safe);
    } catch {
      line = JSON.stringify({ t: new Date().toISOString(), level: lvl, msg, fields: 'unserializable' });
    }
    sink(line);
  };
  return {
    level,
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
  };
}

/** A logger that drops everything. */
export const silentLogger: Logger = createLogger('silent', () => {});
