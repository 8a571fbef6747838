/**
 * The narrow view of a Largetable client that the server layers (REST and wire) use. The client
 * follows the MongoDB Node driver's API (src/client); these structural types list only what the
 * server calls, so any driver-shaped client fits. `listDatabases` and `findOneAnd*` accept the
 * shapes the driver uses across versions.
 */

export type Doc = Record<string, unknown>;

export interface CursorLike {
  next(): Promise<Doc | null>;
  toArray(): Promise<Doc[]>;
  close(): Promise<void>;
  explain?(verbosity?: unknown): Promise<Doc>;
}

export interface ChangeStreamLike {
  /** Next event; null once the stream is closed. */
  next(): Promise<Doc | null>;
  close(): Promise<void>;
  readonly resumeToken?: unknown;
}

export interface CollectionLike {
  insertOne(doc: Doc, options?: Doc): Promise<{ insertedId: unknown }>;
  insertMany(docs: Doc[], options?: Doc): Promise<{ insertedCount?: number; insertedIds: Record<number, unknown> }>;
  find(filter?: Doc, options?: Doc): CursorLike;
  findOne(filter?: Doc, options?: Doc): Promise<Doc | null>;
  /**
   * Optional point read for the wire fast path: the stored BSON of the document with this `_id`
   * (read-only), null if none, undefined when the value is not a point `_id` (use find).
   */
  findRawById?(id: unknown): Promise<Uint8Array | null | undefined>;
  aggregate(pipeline: Doc[], options?: Doc): CursorLike;
  updateOne(filter: Doc, update: Doc | Doc[], options?: Doc): Promise<UpdateResultLike>;
  updateMany(filter: Doc, update: Doc | Doc[], options?: Doc): Promise<UpdateResultLike>;
  replaceOne(filter: Doc, doc: Doc, options?: Doc): Promise<UpdateResultLike>;
  deleteOne(filter: Doc, options?: Doc): Promise<{ deletedCount: number }>;
  deleteMany(filter: Doc, options?: Doc): Promise<{ deletedCount: number }>;
  findOneAndUpdate(filter: Doc, update: Doc | Doc[], options?: Doc): Promise<unknown>;
  findOneAndReplace(filter: Doc, doc: Doc, options?: Doc): Promise<unknown>;
  findOneAndDelete(filter: Doc, options?: Doc): Promise<unknown>;
  countDocuments(filter?: Doc, options?: Doc): Promise<number>;
  distinct(key: string, filter?: Doc, options?: Doc): Promise<unknown[]>;
  createIndex(spec: Doc, options?: Doc): Promise<string>;
  listIndexes(): { toArray(): Promise<Doc[]> };
  dropIndex(name: string): Promise<unknown>;
  dropIndexes?(): Promise<unknown>;
  stats?(): Promise<Doc> | Doc;
  watch?(pipeline?: Doc[], options?: Doc): ChangeStreamLike;
  drop?(): Promise<boolean>;
}

export interface UpdateResultLike {
  matchedCount: number;
  modifiedCount: number;
  upsertedCount?: number;
  upsertedId?: unknown;
}

export interface DbLike {
  collection(name: string): CollectionLike;
  listCollections(filter?: Doc, options?: Doc): { toArray(): Promise<Doc[]> };
  createCollection(name: string, options?: Doc): Promise<unknown>;
  dropCollection?(name: string): Promise<boolean>;
  dropDatabase(): Promise<boolean>;
  admin?(): { listDatabases(): Promise<{ databases: Doc[] }> };
}

export interface ClientLike {
  db(name?: string): DbLike;
  close(): Promise<void>;
  listDatabases?(): Promise<{ databases: Doc[] } | Doc[]>;
  stats?(): unknown;
}

/** Databases as `{ name, sizeOnDisk, empty }`, whichever way the client exposes them. */
export async function listDatabases(client: ClientLike): Promise<Doc[]> {
  let r: { databases: Doc[] } | Doc[] | undefined;
  if (typeof client.listDatabases === 'function') r = await client.listDatabases();
  else {
    const admin = client.db('admin').admin;
    if (typeof admin === 'function') r = await admin.call(client.db('admin')).listDatabases();
  }
  const list = Array.isArray(r) ? r : (r?.databases ?? []);
  return list.map((d) => ({ sizeOnDisk: 0, empty: false, ...d }));
}

/** Drop a collection; false when it did not exist. */
export async function dropCollection(client: ClientLike, db: string, name: string): Promise<boolean> {
  const d = client.db(db);
  if (typeof d.dropCollection === 'function') return d.dropCollection(name);
  const c = d.collection(name);
  if (typeof c.drop === 'function') return c.drop();
  return false;
}

/**
 * Normalise a findOneAnd* result to `{ value, updatedExisting, upserted }`: the driver returns
 * either the document or, with `includeResultMetadata`, `{ value, ok, lastErrorObject }`.
 */
export function findAndModifyResult(r: unknown): { value: Doc | null; lastErrorObject?: Doc } {
  if (r && typeof r === 'object' && 'ok' in r && 'value' in r) {
    const m = r as { value: Doc | null; lastErrorObject?: Doc };
    return m.lastErrorObject ? { value: m.value, lastErrorObject: m.lastErrorObject } : { value: m.value };
  }
  return { value: (r as Doc | null) ?? null };
}

/** Numeric fields of whatever the client's `stats()` returns, flattened with `_` (for /metrics). */
export function numericStats(value: unknown, prefix = '', out: Record<string, number> = {}, depth = 0): Record<string, number> {
  if (depth > 4 || value === null || typeof value !== 'object') return out;
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    const key = (prefix ? prefix + '_' : '') + k.replace(/[^A-Za-z0-9_]/g, '_');
    if (typeof v === 'number' && Number.isFinite(v)) out[key] = v;
    else if (typeof v === 'bigint') out[key] = Number(v);
    else if (typeof v === 'object') numericStats(v, key, out, depth + 1);
  }
  return out;
}

/** The storage engine under a Largetable client (`client.engine.store`), if this client has one. */
export function storeOf(client: ClientLike): { stats?(): unknown; verify?(): Promise<{ ok: boolean }>; compact?(): Promise<void>; flush?(): Promise<void> } | undefined {
  const c = client as { engineOrUndefined?: { store?: object }; engine?: { store?: object } };
  let store: object | undefined;
  try {
    store = c.engineOrUndefined?.store ?? (typeof c.engineOrUndefined === 'undefined' ? undefined : c.engine?.store);
  } catch {
    store = undefined;
  }
  return store as ReturnType<typeof storeOf>;
}

/** The document layer's decoded-document cache under a Largetable client, if this client has one. */
export function documentCacheOf(client: ClientLike): { maxBytes: number; stats(): { entries: number; bytes: number; hits: number; misses: number } } | undefined {
  const c = client as { engineOrUndefined?: { docCache?: object } };
  try {
    return c.engineOrUndefined?.docCache as ReturnType<typeof documentCacheOf>;
  } catch {
    return undefined;
  }
}
