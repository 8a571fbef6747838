// The wire-protocol "hello world" for `npm run bench -- server`: a MongoDB wire listener with no
// database behind it, answering from constants what a standalone mongod answers (the hello fields
// drivers read, logicalSessionTimeoutMinutes included, so the driver attaches sessions as it does
// against mongod and Largetable; no topologyVersion, as Largetable: the driver polls). `find`
// returns one small document with the requested _id. It measures what the official driver and the
// load process cost on this machine with a server that does nothing: the ceiling of the driver
// phases, as the hono hello-world is for REST. Prints {"ready":true,"mongoPort":N} when listening.
import { createServer } from 'node:net';
import { Long } from 'bson';
import { decodeMessage, encodeOpMsg, encodeOpReply, Framer, MSG_MORE_TO_COME } from '../../src/wire/codec.ts';

let connectionId = 0;
const server = createServer((sock) => {
  sock.setNoDelay(true);
  const id = ++connectionId;
  const framer = new Framer();
  sock.on('data', (chunk: Buffer) => {
    for (const msg of framer.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length))) {
      const req = decodeMessage(msg);
      if (req.op === 'msg' && req.flags & MSG_MORE_TO_COME) continue; // no reply wanted
      const c = req.command;
      let reply: Record<string, unknown>;
      if ('hello' in c || 'isMaster' in c || 'ismaster' in c) {
        reply = {
          helloOk: true, isWritablePrimary: true, ismaster: true, maxBsonObjectSize: 16 * 1024 * 1024, maxMessageSizeBytes: 48_000_000,
          maxWriteBatchSize: 100_000, localTime: new Date(), logicalSessionTimeoutMinutes: 30, connectionId: id,
          minWireVersion: 0, maxWireVersion: 21, readOnly: false, ok: 1,
        };
      } else if ('find' in c) {
        const filter = c['filter'] as { _id?: unknown } | undefined;
        reply = { cursor: { firstBatch: [{ _id: filter?._id ?? 0, name: 'item', n: 1, tags: ['a', 'b'] }], id: Long.ZERO, ns: `${String(c['$db'])}.${String(c['find'])}` }, ok: 1 };
      } else {
        reply = { ok: 1 };
      }
      sock.write(req.op === 'query' ? encodeOpReply(req.requestId, reply) : encodeOpMsg(req.requestId, reply));
    }
  });
  sock.on('error', () => {});
});
server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ ready: true, mongoPort: (server.address() as { port: number }).port })));
