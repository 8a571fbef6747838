/**
 * MongoDB wire listener over `node:net` (also used by Deno through its Node compatibility).
 * One Framer per socket; messages on a connection are answered strictly in order. A malformed
 * message is answered with an error document when its requestID is readable, then only that
 * socket is closed.
 */
import { createServer } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { decodeMessage, encodeOpMsg, encodeOpMsgBody, encodeOpReply, encodeOpReplyBody, frameOpMsg, Framer, MSG_MORE_TO_COME, requestIdOf } from '../../src/wire/codec.ts';
import { EncodedReply, errorReply, WireServer } from '../../src/wire/commands.ts';
import type { HostFacts } from '../../src/wire/commands.ts';
import os from 'node:os';
import type { ClientLike } from '../../src/server/engine.ts';
import type { Logger } from '../../src/server/log.ts';
import type { Metrics } from '../../src/server/metrics.ts';
import { wireConnectionsMax } from '../../src/limits.ts';

export interface MongoListener {
  port: number;
  wire: WireServer;
  close(): Promise<void>;
}

export interface MongoListenerOptions {
  client: ClientLike;
  host: string;
  port: number;
  logger: Logger;
  metrics?: Metrics;
  version?: string;
  slowQueryMs?: number;
  /** Machine facts for hostInfo/serverStatus; default: read from node:os. */
  hostFacts?: HostFacts;
}

/** This machine, as hostInfo reports it (node:os; Deno provides it through its Node compatibility). */
export function hostFacts(): HostFacts {
  const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return {
    hostname: os.hostname(), numCores: cores, memSizeMB: Math.round(os.totalmem() / (1024 * 1024)), cpuArch: os.arch(),
    osType: os.type(), osName: os.platform(), osVersion: os.release(), argv: [...process.argv], pid: process.pid,
  };
}

export async function startMongoListener(opts: MongoListenerOptions): Promise<MongoListener> {
  const wire = new WireServer({
    client: opts.client, logger: opts.logger,
    ...(opts.metrics ? { metrics: opts.metrics } : {}),
    ...(opts.version ? { largetableVersion: opts.version } : {}),
    ...(opts.slowQueryMs !== undefined ? { slowQueryMs: opts.slowQueryMs } : {}),
    host: opts.hostFacts ?? hostFacts(),
  });
  const sockets = new Set<Socket>();
  const busy = new Set<Promise<void>>();
  let connId = 0;
  let closing = false;

  const server = createServer((sock) => {
    if (closing) {
      sock.destroy();
      return;
    }
    const conn = { id: ++connId, remote: `${sock.remoteAddress}:${sock.remotePort}` };
    sockets.add(sock);
    wire.connectionsCurrent++;
    wire.connectionsTotal++;
    sock.setNoDelay(true);
    const framer = new Framer();
    /** Framed messages not yet answered (answered strictly in order, one at a time). */
    const pending: Uint8Array[] = [];
    let draining: Promise<void> | undefined;

    const fail = (err: unknown, requestId?: number): void => {
      opts.logger.warn('wire connection closed: bad message', { conn: conn.id, remote: conn.remote, err });
      pending.length = 0;
      if (requestId !== undefined && !sock.destroyed) sock.write(encodeOpMsg(requestId, errorReply(err)));
      sock.end();
      setTimeout(() => sock.destroy(), 1000).unref();
    };

    const handle = async (msg: Uint8Array): Promise<void> => {
      let req;
      try {
        req = decodeMessage(msg);
      } catch (err) {
        fail(err, requestIdOf(msg));
        return;
      }
      const reply = await wire.reply(req.command, conn);
      if (sock.destroyed) return;
      if (req.op === 'msg' && req.flags & MSG_MORE_TO_COME) return;
      let bytes: Uint8Array;
      try {
        if (reply instanceof EncodedReply) {
          bytes = req.op === 'query' ? encodeOpReplyBody(req.requestId, reply.bson)
            : reply.opMsgFrame ? frameOpMsg(req.requestId, reply.opMsgFrame)
            : encodeOpMsgBody(req.requestId, reply.bson);
        }
        else bytes = req.op === 'query' ? encodeOpReply(req.requestId, reply) : encodeOpMsg(req.requestId, reply);
      } catch (err) {
        // A reply that cannot be encoded (e.g. over the BSON size limit) becomes an error reply.
        opts.logger.error('wire reply could not be encoded', { conn: conn.id, err });
        const e = errorReply(err);
        bytes = req.op === 'query' ? encodeOpReply(req.requestId, e) : encodeOpMsg(req.requestId, e);
      }
      sock.write(bytes);
    };

    /** Answers the pending messages in order; one drain per connection at a time. */
    const drain = async (): Promise<void> => {
      try {
        for (let m = pending.shift(); m !== undefined; m = pending.shift()) await handle(m);
      } catch (err) {
        opts.logger.error('wire message failed', { conn: conn.id, err });
        pending.length = 0;
        sock.destroy();
      } finally {
        busy.delete(draining!);
        draining = undefined;
      }
    };

    sock.on('data', (chunk: Buffer) => {
      let msgs: Uint8Array[];
      try {
        msgs = framer.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length));
      } catch (err) {
        sock.pause();
        fail(err);
        return;
      }
      for (const m of msgs) pending.push(m);
      if (!draining && pending.length > 0) {
        draining = drain();
        busy.add(draining);
      }
    });
    sock.on('error', () => {});
    sock.on('close', () => {
      sockets.delete(sock);
      wire.connectionsCurrent--;
    });
  });
  server.maxConnections = wireConnectionsMax;

  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(opts.port, opts.host, () => {
      server.off('error', fail);
      ok();
    });
  });
  server.on('error', (err) => opts.logger.error('wire listener error', { err }));

  return {
    port: (server.address() as AddressInfo).port,
    wire,
    async close() {
      closing = true;
      const closed = new Promise<void>((r) => server.close(() => r()));
      // Finish in-flight commands (writes) before closing sockets.
      for (let i = 0; i < 200 && busy.size > 0; i++) await Promise.race([Promise.allSettled([...busy]), new Promise((r) => setTimeout(r, 25))]);
      for (const s of sockets) s.destroy();
      await wire.closeAll();
      await closed;
    },
  };
}
