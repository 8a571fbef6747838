/**
 * Deno glue for the server: the same hono app on `Deno.serve` with `hono/deno` WebSockets; the
 * MongoDB wire listener is the `node:net` one (platform/node/mongo-socket.ts) through Deno's
 * Node compatibility. Console assets are read from the package's web/ directory.
 */
import { upgradeWebSocket } from 'hono/deno';
import type { UpgradeWebSocket } from 'hono/ws';
import { createApp } from '../../src/server/app.ts';
import type { ClientLike } from '../../src/server/engine.ts';
import type { Logger } from '../../src/server/log.ts';
import type { ServerConfig } from '../../src/config.ts';
import { Metrics } from '../../src/server/metrics.ts';
import { kernels } from '../../src/kernel/index.ts';
import { startMongoListener } from '../node/mongo-socket.ts';
import { packageVersion, webAssets, wireHost } from '../node/serve.ts';
import type { RunningServer } from '../node/serve.ts';
import { loadPlatformKernels } from './kernels.ts';

// Minimal Deno types (only what this file uses; the repo's tsconfig has Node types only).
interface DenoHttpServer {
  finished: Promise<void>;
  shutdown(): Promise<void>;
  addr: { port: number; hostname: string };
}
interface DenoGlobal {
  version: { deno: string };
  serve(options: { port: number; hostname: string; onListen?: (a: { port: number }) => void }, handler: (req: Request) => Response | Promise<Response>): DenoHttpServer;
}
declare const Deno: DenoGlobal;

export async function denoKernelBuild(): Promise<string> {
  try {
    await loadPlatformKernels();
  } catch {
    // not built: the TypeScript twin stays active
  }
  return kernels().build;
}

export interface DenoStartOptions {
  config: ServerConfig;
  client: ClientLike | undefined;
  logger: Logger;
}

export async function startDenoServer(opts: DenoStartOptions): Promise<RunningServer> {
  const { config, client, logger } = opts;
  const metrics = new Metrics();
  const version = packageVersion();
  let mongoPort = -1;
  const server = createApp(client, {
    version,
    runtime: `deno ${Deno.version.deno}`,
    kernelBuild: await denoKernelBuild(),
    logger,
    metrics,
    bodyLimitBytes: config.bodyLimitBytes,
    slowQueryMs: config.slowQueryMs,
    assets: webAssets(),
    upgradeWebSocket: upgradeWebSocket as unknown as UpgradeWebSocket<unknown>,
    health: () => ({ mongoPort, data: config.data }),
    users: config.users,
  });
  if (config.users.length > 0) logger.warn('HTTP requires Basic credentials of the configured users');
  const http = await new Promise<DenoHttpServer>((ok) => {
    const s: DenoHttpServer = Deno.serve({ port: config.port, hostname: config.host, onListen: () => queueMicrotask(() => ok(s)) }, server.app.fetch);
  });
  let wire;
  try {
    wire = config.mongoPort >= 0 && client
      ? await startMongoListener({ client, host: wireHost(config, logger), port: config.mongoPort, logger, metrics, version, slowQueryMs: config.slowQueryMs })
      : undefined;
  } catch (err) {
    await http.shutdown();
    throw err;
  }
  mongoPort = wire?.port ?? -1;
  return {
    host: config.host,
    port: http.addr.port,
    mongoPort,
    async close() {
      await wire?.close();
      await server.closeStreams();
      for (let i = 0; i < 200 && server.inFlight() > 0; i++) await new Promise((r) => setTimeout(r, 25));
      await http.shutdown();
    },
  };
}
