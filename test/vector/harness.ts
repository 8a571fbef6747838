/** Opens the real engine + collection API over an adapter, with the vector kind registered. */
import type { StorageAdapter } from '../../src/storage/adapter.ts';
import { openStore } from '../../src/storage/index.ts';
import { Engine } from '../../src/document/engine.ts';
import { Collection, type ClientCore } from '../../src/document/collection.ts';
import { getIndexPlugin } from '../../src/document/collection.ts';
import { VectorIndexPlugin } from '../../src/vector/index.ts';
import { AggregationCursor } from '../../src/document/aggregate.ts';

export interface Opened {
  engine: Engine;
  client: ClientCore;
  coll: Collection;
  close(): Promise<void>;
}

export async function openCollection(adapter: StorageAdapter, name = 'items'): Promise<Opened> {
  const store = await openStore(adapter);
  const engine = await Engine.open(store);
  const client: ClientCore = {
    engine,
    collection(db: string, n: string) {
      return new Collection(client, db, n);
    },
    aggregate(coll, pipeline, options) {
      return new AggregationCursor(coll, pipeline, options);
    },
  };
  const coll = client.collection('test', name);
  return { engine, client, coll, close: () => engine.close() };
}

export function vectorPlugin(coll: Collection, name: string): VectorIndexPlugin {
  const p = getIndexPlugin(coll, name);
  if (!(p instanceof VectorIndexPlugin)) throw new Error(`no vector plugin ${name}`);
  return p;
}
