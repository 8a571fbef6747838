/**
 * Node glue for the server: the hono app on @hono/node-server 2 (with `ws` for WebSockets), the
 * MongoDB wire listener (mongo-socket.ts), console assets from web/, and graceful shutdown.
 */
import { serve, upgradeWebSocket } from '@hono/node-server';
import type { ServerType } from '@hono/node-server';
import { WebSocketServer } from 'ws';
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { getHeapSpaceStatistics } from 'node:v8';
import type { UpgradeWebSocket } from 'hono/ws';
import { createApp } from '../../src/server/app.ts';
import type { ServerApp, StaticAsset } from '../../src/server/app.ts';
import type { ClientLike } from '../../src/server/engine.ts';
import type { Logger } from '../../src/server/log.ts';
import type { ServerConfig } from '../../src/config.ts';
import { isLoopback } from '../../src/config.ts';
import { Metrics } from '../../src/server/metrics.ts';
import { startMongoListener } from './mongo-socket.ts';
import { loadPlatformKernels } from './kernels.ts';
import { kernels } from '../../src/kernel/index.ts';
import { webSocketMessageBytesMax } from '../../src/limits.ts';

/** The package root (holds package.json and web/), from src or from dist. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const pj = join(dir, 'package.json');
    if (existsSync(pj)) {
      try {
        if ((JSON.parse(readFileSync(pj, 'utf8')) as { name?: string }).name === 'largetable') return dir;
      } catch {
        /* keep walking */
      }
    }
    dir = dirname(dir);
  }
  throw new Error('largetable package root not found');
}

export function packageVersion(): string {
  return (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}

/**
 * Load the best kernel build (wasm SIMD or scalar; the TypeScript twin if none is built) with the
 * runtime's loader (Node's by default); returns its name.
 */
export async function kernelBuild(load: () => Promise<unknown> = loadPlatformKernels): Promise<string> {
  try {
    await load();
  } catch {
    // not built: the TypeScript twin stays active
  }
  return kernels().build;
}

const mimeTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8',
  '.json': 'application/json', '.svg': 'image/svg+xml', '.png': 'image/png', '.ico': 'image/x-icon', '.wasm': 'application/wasm',
};

/** Console files from `<root>/web`, refusing anything outside it. */
export function webAssets(root = join(packageRoot(), 'web')): (path: string) => Promise<StaticAsset | undefined> {
  const base = resolve(root);
  return async (path) => {
    const file = resolve(base, path);
    if (!file.startsWith(base + sep)) return undefined;
    try {
      return { body: new Uint8Array(await readFile(file)), type: mimeTypes[extname(file)] ?? 'application/octet-stream' };
    } catch {
      return undefined;
    }
  };
}

/**
 * The wire protocol has no authentication yet (SCRAM comes with the auth issue): it listens on
 * 127.0.0.1 even when HTTP is bound to another address.
 */
export function wireHost(config: ServerConfig, logger: Logger): string {
  if (isLoopback(config.host)) return config.host;
  logger.warn('the MongoDB wire protocol does not authenticate yet: it listens on 127.0.0.1 only', { httpHost: config.host });
  return '127.0.0.1';
}

/** What differs between the runtimes in the app: its name, kernel build and WebSocket upgrader. */
export interface AppRuntime {
  runtime: string;
  kernelBuild: string;
  upgradeWebSocket: UpgradeWebSocket<unknown>;
}

/** The hono app as both runtimes serve it (console assets from web/, body and slow-query limits, users). */
export function createServerApp(
  client: ClientLike | undefined, config: ServerConfig, logger: Logger, metrics: Metrics, version: string,
  rt: AppRuntime, health: () => Record<string, unknown>,
): ServerApp {
  const server = createApp(client, {
    version,
    runtime: rt.runtime,
    kernelBuild: rt.kernelBuild,
    logger,
    metrics,
    bodyLimitBytes: config.bodyLimitBytes,
    slowQueryMs: config.slowQueryMs,
    assets: webAssets(),
    upgradeWebSocket: rt.upgradeWebSocket,
    health,
    users: config.users,
  });
  if (config.users.length > 0) logger.warn('HTTP requires Basic credentials of the configured users');
  return server;
}

/** The MongoDB wire listener, unless disabled (mongoPort -1) or there is no client. */
export async function startWire(client: ClientLike | undefined, config: ServerConfig, logger: Logger, metrics: Metrics, version: string) {
  return config.mongoPort >= 0 && client
    ? await startMongoListener({ client, host: wireHost(config, logger), port: config.mongoPort, logger, metrics, version, slowQueryMs: config.slowQueryMs })
    : undefined;
}

/** Waits (up to 5 s) for the HTTP requests in flight to finish. */
export async function drainInFlight(server: ServerApp): Promise<void> {
  for (let i = 0; i < 200 && server.inFlight() > 0; i++) await new Promise((r) => setTimeout(r, 25));
}

export interface RunningServer {
  host: string;
  port: number;
  /** -1 when the wire listener is disabled. */
  mongoPort: number;
  /** Stop accepting, wait for in-flight requests, close streams and sockets (not the client). */
  close(): Promise<void>;
}

export interface StartOptions {
  config: ServerConfig;
  /** Undefined: serve /health and the console only (API answers 503, no wire listener). */
  client: ClientLike | undefined;
  logger: Logger;
  runtime?: string;
  kernel?: string;
}

/** Start HTTP (and the wire listener unless mongoPort is -1). */
export async function startServer(opts: StartOptions): Promise<RunningServer> {
  const { config, client, logger } = opts;
  const metrics = new Metrics();
  metrics.gauge('largetable_process_resident_bytes', 'Resident set size of the server process', () => process.memoryUsage.rss());
  metrics.gauge('largetable_process_heap_used_bytes', 'V8 heap in use', () => process.memoryUsage().heapUsed);
  metrics.gauge('largetable_process_memory_bytes', 'Process memory by kind: RSS; V8 heap total and used, and the heap by space (committed); external and ArrayBuffers (memtables, blocks, sockets); the rest of RSS (code, runtime, allocator)', () => {
    const m = process.memoryUsage();
    const space: Record<string, number> = { newSpace: 0, oldSpace: 0, codeSpace: 0, largeObjectSpace: 0 };
    for (const s of getHeapSpaceStatistics()) {
      const key = s.space_name === 'new_space' ? 'newSpace' : s.space_name === 'old_space' ? 'oldSpace' : s.space_name.startsWith('code') ? 'codeSpace' : s.space_name.includes('large_object') ? 'largeObjectSpace' : 'oldSpace';
      space[key]! += s.space_size;
    }
    return {
      rss: m.rss, heapTotal: m.heapTotal, heapUsed: m.heapUsed, ...space, external: m.external, arrayBuffers: m.arrayBuffers,
      other: Math.max(0, m.rss - m.heapTotal - m.external),
    };
  });
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  metrics.gauge('largetable_event_loop_delay_seconds', 'Event loop delay since start: p50, p99, max', () => ({
    p50: loopDelay.percentile(50) / 1e9, p99: loopDelay.percentile(99) / 1e9, max: loopDelay.max / 1e9,
  }));
  // GC pauses of this process (V8 stops JavaScript for them; every open request waits)
  const gc = { count: 0, seconds: 0, max: 0 };
  const gcObserver = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      gc.count++;
      gc.seconds += e.duration / 1000;
      if (e.duration / 1000 > gc.max) gc.max = e.duration / 1000;
    }
  });
  gcObserver.observe({ entryTypes: ['gc'] });
  metrics.gauge('largetable_gc_pauses', 'Garbage-collection pauses since start: count, total seconds, longest seconds', () => ({ ...gc }));
  const version = packageVersion();
  let mongoPort = -1;
  const server = createServerApp(client, config, logger, metrics, version, {
    runtime: opts.runtime ?? `node ${process.versions.node}`,
    kernelBuild: opts.kernel ?? (await kernelBuild()),
    upgradeWebSocket: upgradeWebSocket as unknown as UpgradeWebSocket<unknown>,
  }, () => ({ mongoPort, data: config.data }));
  const wss = new WebSocketServer({ noServer: true, maxPayload: webSocketMessageBytesMax });
  const http: ServerType = await new Promise((ok, fail) => {
    const s = serve({ fetch: server.app.fetch, port: config.port, hostname: config.host, websocket: { server: wss } }, () => ok(s));
    s.once('error', fail);
  });
  http.on('error', (err) => logger.error('http server error', { err }));
  const port = (http.address() as AddressInfo).port;

  let wire;
  try {
    wire = await startWire(client, config, logger, metrics, version);
  } catch (err) {
    (http as { closeAllConnections?: () => void }).closeAllConnections?.();
    await new Promise<void>((r) => http.close(() => r()));
    wss.close();
    throw err;
  }
  mongoPort = wire?.port ?? -1;

  return {
    host: config.host,
    port,
    mongoPort,
    async close() {
      const closed = new Promise<void>((r) => http.close(() => r()));
      await wire?.close();
      await server.closeStreams();
      for (const ws of wss.clients) ws.terminate();
      wss.close();
      await drainInFlight(server);
      (http as { closeAllConnections?: () => void }).closeAllConnections?.();
      await closed;
      gcObserver.disconnect();
      loopDelay.disable();
    },
  };
}
