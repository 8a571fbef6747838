/**
 * `largetable dump` / `restore`: every database in one gzip stream (fflate) of BSON records.
 * Layout (docs/FORMAT.md "Dump file"): gzip( header, { collection, indexes }, { d: doc }*, ..., end ).
 * Consistency: when the client offers `snapshot()` (a read view), every collection is read at
 * that one view; otherwise collections are read one after another.
 */
import { BSON } from 'bson';
import { Gunzip, Gzip } from 'fflate';
import { LargetableError } from '../errors.ts';
import { documentSizeBytesMax } from '../limits.ts';
import type { ClientLike, Doc } from '../server/engine.ts';
import { dropCollection, listDatabases } from '../server/engine.ts';
import type { ByteSink } from './main.ts';

export const dumpFormatVersion = 1;
const magic = 'largetable-dump';

export interface DumpReport {
  collections: number;
  documents: number;
}

/** Write a snapshot of every database to `sink`. */
export async function dumpAll(client: ClientLike, sink: ByteSink): Promise<DumpReport> {
  const pending: Uint8Array[] = [];
  const gz = new Gzip({ level: 6 }, (chunk) => {
    pending.push(chunk);
  });
  const flush = async (): Promise<void> => {
    while (pending.length) await sink.write(pending.shift()!);
  };
  const put = async (doc: Doc): Promise<void> => {
    gz.push(BSON.serialize(doc));
    if (pending.length) await flush();
  };
  const report: DumpReport = { collections: 0, documents: 0 };
  // A read-only transaction pins one snapshot for every collection read below.
  const session = snapshotSession(client);
  const readOpts: Doc = session ? { session } : {};
  try {
    await put({ magic, version: dumpFormatVersion, created: new Date(), snapshot: !!session });
    await dumpCollections(client, put, report, readOpts);
  } finally {
    if (session) {
      await session.abortTransaction().catch(() => {});
      await session.endSession().catch(() => {});
    }
  }
  gz.push(BSON.serialize({ end: true, collections: report.collections, documents: report.documents }), true);
  await flush();
  return report;
}

interface SessionLike {
  startTransaction(): void;
  abortTransaction(): Promise<void>;
  endSession(): Promise<void>;
}

function snapshotSession(client: ClientLike): SessionLike | undefined {
  const c = client as { startSession?: () => SessionLike };
  if (typeof c.startSession !== 'function') return undefined;
  try {
    const s = c.startSession();
    s.startTransaction();
    return s;
  } catch {
    return undefined;
  }
}

async function dumpCollections(client: ClientLike, put: (d: Doc) => Promise<void>, report: DumpReport, readOpts: Doc): Promise<void> {
  for (const d of await listDatabases(client)) {
    const db = String(d['name']);
    for (const c of await client.db(db).listCollections().toArray()) {
      const name = String(c['name']);
      const col = client.db(db).collection(name);
      const indexes = (await col.listIndexes().toArray()).filter((ix) => ix['name'] !== '_id_');
      await put({ collection: { db, name, options: c['options'] ?? {} }, indexes });
      report.collections++;
      const cursor = col.find({}, readOpts);
      try {
        for (let doc = await cursor.next(); doc; doc = await cursor.next()) {
          await put({ d: doc });
          report.documents++;
        }
      } finally {
        await cursor.close().catch(() => {});
      }
    }
  }
}

/** Split a byte stream into BSON documents. */
async function* bsonDocs(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<Doc> {
  let buf = new Uint8Array(0);
  for await (const c of chunks) {
    const next = new Uint8Array(buf.length + c.length);
    next.set(buf);
    next.set(c, buf.length);
    buf = next;
    let at = 0;
    while (buf.length - at >= 4) {
      const len = new DataView(buf.buffer, buf.byteOffset + at, 4).getInt32(0, true);
      if (len < 5 || len > documentSizeBytesMax + 1024) throw new LargetableError('CORRUPTION', `dump record of ${len} bytes is out of range`);
      if (buf.length - at < len) break;
      let doc: Doc;
      try {
        doc = BSON.deserialize(buf.subarray(at, at + len), { promoteValues: true }) as Doc;
      } catch (err) {
        throw new LargetableError('CORRUPTION', `dump record is not valid BSON: ${(err as Error).message}`, { cause: err });
      }
      yield doc;
      at += len;
    }
    buf = buf.slice(at);
  }
  if (buf.length) throw new LargetableError('CORRUPTION', `dump ends inside a record (${buf.length} bytes left)`);
}

async function* gunzip(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  const out: Uint8Array[] = [];
  const gz = new Gunzip((chunk) => {
    out.push(chunk);
  });
  try {
    for await (const c of chunks) {
      gz.push(c);
      while (out.length) yield out.shift()!;
    }
    gz.push(new Uint8Array(0), true);
  } catch (err) {
    if (err instanceof LargetableError) throw err;
    throw new LargetableError('CORRUPTION', `dump is not a valid gzip stream: ${(err as Error).message}`, { cause: err });
  }
  while (out.length) yield out.shift()!;
}

/** Restore a dump; with `drop`, each collection is dropped first. */
export async function restoreAll(client: ClientLike, chunks: AsyncIterable<Uint8Array>, options: { drop?: boolean } = {}): Promise<DumpReport> {
  const report: DumpReport = { collections: 0, documents: 0 };
  let header = false;
  let ended = false;
  let target: { db: string; name: string } | undefined;
  let batch: Doc[] = [];
  const flushBatch = async (): Promise<void> => {
    if (target && batch.length) {
      await client.db(target.db).collection(target.name).insertMany(batch);
      report.documents += batch.length;
    }
    batch = [];
  };
  for await (const rec of bsonDocs(gunzip(chunks))) {
    if (!header) {
      if (rec['magic'] !== magic) throw new LargetableError('CORRUPTION', 'not a largetable dump (bad magic)');
      if (rec['version'] !== dumpFormatVersion) throw new LargetableError('UNSUPPORTED_FORMAT', `dump format version ${String(rec['version'])} is not supported`);
      header = true;
    } else if (ended) {
      throw new LargetableError('CORRUPTION', 'records after the end marker');
    } else if ('d' in rec) {
      if (!target) throw new LargetableError('CORRUPTION', 'document before any collection record');
      batch.push(rec['d'] as Doc);
      if (batch.length >= 1000) await flushBatch();
    } else if ('collection' in rec) {
      await flushBatch();
      const c = rec['collection'] as { db: string; name: string; options?: Doc };
      target = { db: c.db, name: c.name };
      if (options.drop) await dropCollection(client, c.db, c.name).catch(() => false);
      const existing = await client.db(c.db).listCollections().toArray();
      if (!existing.some((x) => x['name'] === c.name)) await client.db(c.db).createCollection(c.name, c.options ?? {});
      for (const ix of (rec['indexes'] as Doc[] | undefined) ?? []) {
        const { key, v: _v, ns: _ns, ...opts } = ix;
        await client.db(c.db).collection(c.name).createIndex(key as Doc, opts);
      }
      report.collections++;
    } else if (rec['end'] === true) {
      await flushBatch();
      ended = true;
    } else {
      throw new LargetableError('CORRUPTION', 'unknown dump record');
    }
  }
  if (!header) throw new LargetableError('CORRUPTION', 'empty dump');
  if (!ended) throw new LargetableError('CORRUPTION', 'dump is truncated (no end marker)');
  return report;
}
