/**
 * collection.aggregate(): runs the query engineer's runPipeline over a document source chosen by
 * the planner. A leading $match (and a $sort right after it, and a $limit after that) is pushed into
 * the planner so it can use indexes; the rest runs in runPipeline. $lookup/$unionWith read other
 * collections of the same database, $out/$merge write through the normal collection API, and a
 * leading $vectorSearch is answered by the collection's vector plugin.
 */
import { LargetableError } from '../errors.ts';
import { pipelineStagesMax } from '../limits.ts';
import { runPipeline, setDocMeta, type PipelineContext } from '../query/index.ts';
import { isPlainObject, type Document } from '../query/values.ts';
import type { Collection, SessionLike } from './collection.ts';
import { AbstractCursor } from './cursor.ts';
import type { ExecStats, FindRequest } from './exec.ts';

export class AggregationCursor<T = Document> extends AbstractCursor<T> {
  private readonly coll: Collection;
  private readonly pipeline: Document[];
  private readonly options: Document;
  constructor(coll: Collection, pipeline: Document[], options: Document) {
    super();
    if (!Array.isArray(pipeline)) throw new LargetableError('BAD_QUERY', 'pipeline must be an array');
    if (pipeline.length > pipelineStagesMax) throw new LargetableError('LIMIT_EXCEEDED', `pipeline longer than ${pipelineStagesMax} stages`);
    for (const s of pipeline) if (!isPlainObject(s) || Object.keys(s).length !== 1) throw new LargetableError('BAD_QUERY', 'each pipeline stage must be a document with exactly one field');
    this.coll = coll;
    this.pipeline = pipeline;
    this.options = options;
    if (typeof options.batchSize === 'number') this.batchSize(options.batchSize);
  }

  protected open(): AsyncGenerator<Document> {
    return runAggregate(this.coll, this.pipeline, this.options);
  }

  async explain(_verbosity: string = 'queryPlanner'): Promise<Document> {
    const first = this.pipeline[0];
    if (first && '$vectorSearch' in first && isPlainObject(first.$vectorSearch)) {
      // a leading $vectorSearch: the vector plan (strategy, candidates, efSearch/nprobe) and the filter's plan
      const spec = first.$vectorSearch as Document;
      const { queryVector, vector, limit, ...rest } = spec;
      const plan = await this.coll.explainVectorSearch((queryVector ?? vector) as number[], { ...rest, k: limit ?? spec.k ?? 10 });
      const filterPlan = (plan.filter as Document | undefined)?.queryPlanner as Document | undefined;
      return {
        queryPlanner: { namespace: this.coll.namespace, winningPlan: { stage: 'VECTOR_SEARCH', ...(plan.vectorSearch as Document), ...(filterPlan ? { filter: filterPlan.winningPlan } : {}) } },
        ...plan,
        stages: this.pipeline.map((s) => ({ ...s })),
      };
    }
    const { req } = splitPipeline(this.pipeline);
    const inner = await this.coll.explainFind(req, 'queryPlanner', this.options.session as SessionLike | undefined);
    return { ...inner, stages: this.pipeline.map((s) => ({ ...s })) };
  }
}

function splitPipeline(pipeline: Document[]): { req: FindRequest; rest: Document[] } {
  const req: FindRequest = { filter: {} };
  let i = 0;
  if (pipeline[i] && '$match' in pipeline[i]! && isPlainObject(pipeline[i]!.$match) && !hasExpr(pipeline[i]!.$match as Document)) {
    req.filter = pipeline[i]!.$match as Document;
    i++;
  }
  if (pipeline[i] && '$sort' in pipeline[i]! && isPlainObject(pipeline[i]!.$sort)) {
    const sort = pipeline[i]!.$sort as Document;
    if (Object.values(sort).every((v) => v === 1 || v === -1)) {
      req.sort = sort;
      i++;
      if (pipeline[i] && '$limit' in pipeline[i]! && typeof pipeline[i]!.$limit === 'number' && (pipeline[i]!.$limit as number) > 0) {
        req.limit = pipeline[i]!.$limit as number;
        i++;
      }
    }
  }
  return { req, rest: pipeline.slice(i) };
}

function hasExpr(f: Document): boolean {
  return JSON.stringify(f, (_k, v) => (typeof v === 'bigint' ? String(v) : v)).includes('"$expr"') && false;
}

async function* runAggregate(coll: Collection, pipeline: Document[], options: Document): AsyncGenerator<Document> {
  const session = options.session as SessionLike | undefined;
  const client = coll.client;
  const ctx: PipelineContext = {
    collection(name: string): AsyncIterable<Document> {
      return client.collection(coll.dbName, name).find({}, { session });
    },
    async write(name: string, docs: Document[], stage: Document): Promise<void> {
      const target = client.collection(coll.dbName, name);
      if ('$out' in stage) {
        const tmp = client.collection(coll.dbName, name);
        await tmp.drop();
        if (docs.length > 0) await tmp.insertMany(docs.map((d) => ({ ...d })));
        return;
      }
      const spec = (isPlainObject(stage.$merge) ? stage.$merge : { into: stage.$merge }) as Document;
      const on = spec.on === undefined ? ['_id'] : Array.isArray(spec.on) ? (spec.on as string[]) : [spec.on as string];
      const whenMatched = (spec.whenMatched as string | Document[] | undefined) ?? 'merge';
      const whenNotMatched = (spec.whenNotMatched as string | undefined) ?? 'insert';
      for (const d of docs) {
        const filter: Document = {};
        for (const f of on) filter[f] = d[f];
        const existing = await target.findOne(filter);
        if (!existing) {
          if (whenNotMatched === 'insert') await target.insertOne({ ...d });
          else if (whenNotMatched === 'fail') throw new LargetableError('BAD_QUERY', '$merge: no matching document (whenNotMatched: fail)');
          continue;
        }
        if (whenMatched === 'replace') await target.replaceOne({ _id: existing._id }, withoutId(d));
        else if (whenMatched === 'keepExisting') continue;
        else if (whenMatched === 'fail') throw new LargetableError('DUPLICATE_KEY', '$merge: a matching document exists (whenMatched: fail)');
        else if (Array.isArray(whenMatched)) await target.updateOne({ _id: existing._id }, whenMatched);
        else await target.updateOne({ _id: existing._id }, { $set: withoutId(d) });
      }
    },
    vectorSearch(stage: Document): AsyncIterable<Document> {
      const spec = (stage.$vectorSearch ?? stage) as Document;
      return (async function* () {
        const vector = (spec.queryVector ?? spec.vector) as number[];
        const limit = (spec.limit ?? spec.k ?? 10) as number;
        const { queryVector: _q, vector: _v, limit: _l, ...rest } = spec;
        void _q;
        void _v;
        void _l;
        const hits = await coll.vectorSearch(vector, { ...rest, k: limit });
        for (const h of hits) {
          // the score travels beside the document ({$meta: 'vectorSearchScore'}), not as a field
          const doc: Document = { ...((h.document as Document | undefined) ?? { _id: h._id }) };
          if (typeof h.score === 'number') setDocMeta(doc, { vectorSearchScore: h.score });
          yield doc;
        }
      })();
    },
  };
  const first = pipeline[0];
  if (first && '$vectorSearch' in first) {
    yield* runPipeline(ctx.vectorSearch!(first), pipeline.slice(1), ctx);
    return;
  }
  const { req, rest } = splitPipeline(pipeline);
  const stats: ExecStats = { keysExamined: 0, docsExamined: 0, nReturned: 0 };
  const source = coll.runFind(req, stats, session);
  if (rest.length === 0) {
    yield* source;
    return;
  }
  yield* runPipeline(source, rest, ctx);
}

function withoutId(d: Document): Document {
  const { _id, ...rest } = d;
  void _id;
  return rest;
}
