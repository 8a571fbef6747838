/**
 * Public API shared by every runtime entry (platform/<rt>/index.ts re-exports this and registers
 * its platform). Runtime-neutral: nothing here touches runtime globals.
 */
import { LargetableClient, openClient, type ClientOptions } from './client.ts';

export { LargetableClient, Db, Admin, ClientSession, setPlatform } from './client.ts';
export type { ClientOptions, Platform, TransactionOptions } from './client.ts';
export { Collection, FindCursor, ListIndexesCursor, LargetableBulkWriteError, getIndexPlugin } from './document/collection.ts';
export type { InsertOneResult, InsertManyResult, UpdateResult, DeleteResult, FindOptions } from './document/collection.ts';
export { AbstractCursor } from './document/cursor.ts';
export { AggregationCursor } from './document/aggregate.ts';
export { ChangeStream } from './document/changestream.ts';
export { registerIndexKind } from './document/plugins.ts';
export type { IndexPlugin, IndexPluginContext, IndexPluginFactory } from './document/plugins.ts';
export { LargetableError, ErrorCode, isLargetableError } from './errors.ts';
export type { Document } from './query/values.ts';
export type { Store, WriteOp } from './storage/store.ts';
export type { StorageAdapter, Durability } from './storage/adapter.ts';
export {
  BSON,
  Binary,
  BSONRegExp,
  BSONSymbol,
  Code,
  DBRef,
  Decimal128,
  Double,
  Int32,
  Long,
  MaxKey,
  MinKey,
  ObjectId,
  Timestamp,
  UUID,
} from 'bson';

/** Opens a client on `location` ('./data', 'memory://name', 'idb://name', 'opfs://name'). */
export function open(location: string, options: ClientOptions = {}): Promise<LargetableClient> {
  return openClient(location, options);
}
