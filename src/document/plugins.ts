/**
 * Index plugins: index kinds implemented outside the document layer (vector indexes). A plugin
 * index is created by `createIndex({ field: 'KIND' }, options)` when a factory is registered for
 * KIND. The document layer calls `onWrite` inside every write to the collection (its ops join the
 * same atomic batch), then `afterCommit` or `abort`.
 */
import type { Store, WriteOp } from '../storage/store.ts';
import type { Document } from '../query/values.ts';

export interface IndexPluginContext {
  collectionId: number;
  indexId: number;
  name: string;
  key: Document;
  options: Document;
  store: Store;
  /** A private keyspace for the plugin's own persisted state. */
  keyPrefix: Uint8Array;
}

export interface IndexPlugin {
  /** Called inside every write, before commit: return extra ops for the SAME atomic batch. Throw LargetableError to refuse the write. */
  onWrite(id: unknown, before: Document | undefined, after: Document | undefined): WriteOp[];
  /** Called after the batch committed (seq given), to update in-memory structures. */
  afterCommit(seq: bigint): void;
  /** Called after a failed commit, to drop staged state. */
  abort(): void;
  stats(): Document;
  drop(): Promise<WriteOp[]>;
  close(): Promise<void>;
}

export interface IndexPluginFactory {
  (ctx: IndexPluginContext, existing: AsyncIterable<[unknown, Document]> | null): Promise<IndexPlugin>;
}

const kinds = new Map<string, IndexPluginFactory>();

export function registerIndexKind(kind: string, factory: IndexPluginFactory): void {
  kinds.set(kind, factory);
}

export function indexKindFactory(kind: string): IndexPluginFactory | undefined {
  return kinds.get(kind);
}

/** The plugin kind named by an index key pattern (a string value such as 'vector'), if any. */
export function pluginKindOf(key: Document): string | undefined {
  for (const v of Object.values(key)) if (typeof v === 'string') return v;
  return undefined;
}
