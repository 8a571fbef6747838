/**
 * Deno glue for the server: the same hono app on `Deno.serve` with `hono/deno` WebSockets; the
 * MongoDB wire listener is the `node:net` one (platform/node/mongo-socket.ts) through Deno's
 * Node compatibility. Console assets are read from the package's web/ directory.
 */
import { upgradeWebSocket } from 'hono/deno';
import type { UpgradeWebSocket } from 'hono/ws';
import type { ClientLike } from '../../src/server/engine.ts';
import type { Logger } from '../../src/server/log.ts';
import type { ServerConfig } from '../../src/config.ts';
import { Metrics } from '../../src/server/metrics.ts';
import { createServerApp, drainInFlight, kernelBuild, packageVersion, startWire } from '../node/serve.ts';
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

/** kernelBuild (platform/node/serve.ts) with the Deno kernel loader. */
export function denoKernelBuild(): Promise<string> {
  return kernelBuild(loadPlatformKernels);
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
  const server = createServerApp(client, config, logger, metrics, version, {
    runtime: `deno ${Deno.version.deno}`,
    kernelBuild: await denoKernelBuild(),
    upgradeWebSocket: upgradeWebSocket as unknown as UpgradeWebSocket<unknown>,
  }, () => ({ mongoPort, data: config.data }));
  const http = await new Promise<DenoHttpServer>((ok) => {
    const s: DenoHttpServer = Deno.serve({ port: config.port, hostname: config.host, onListen: () => queueMicrotask(() => ok(s)) }, server.app.fetch);
  });
  let wire;
  try {
    wire = await startWire(client, config, logger, metrics, version);
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
      await drainInFlight(server);
      await http.shutdown();
    },
  };
}
