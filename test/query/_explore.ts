import fc from 'fast-check';
import { isDeepStrictEqual, inspect } from 'node:util';
import { arbDocs, arbFilter, arbSort, arbProjection, arbUpdate, arbPipeline } from './arbitraries.ts';
import * as D from './differential.ts';
const kind = process.argv[2] ?? 'filter';
const N = Number(process.argv[3] ?? 500);
const opts = { forMingo: true };
let fails = 0; const shown: string[] = [];
const samples = fc.sample(fc.tuple(arbDocs(kind === 'sort' ? { ...opts, noArrays: true, noBsonObjects: true } : kind === 'pipeline' ? { ...opts, noNaN: true } : opts), kind === 'filter' ? arbFilter(opts) : kind === 'sort' ? arbSort : kind === 'project' ? arbProjection(opts) : kind === 'update' ? arbUpdate(opts) : arbPipeline(opts) as any), { numRuns: N, seed: Number(process.argv[4] ?? 1) });
(async () => {
for (const [docs, q] of samples as any[]) {
  let a: unknown, b: unknown;
  try {
    if (kind === 'project') { try { D.mingoProject(docs, q); } catch { continue; } }
    if (kind === 'pipeline') { try { D.mingoAggregate(docs, q); } catch { continue; } }
    if (kind === 'filter') { if (/"\$(gt|gte|lt|lte)"/.test(JSON.stringify(q)) && JSON.stringify(D.canon(docs)).includes('$NaN')) continue; a = D.oursFind(docs, q); b = D.mingoFind(docs, q); }
    else if (kind === 'sort') { a = D.oursSort(docs, { ...q, _id: 1 }); b = D.mingoSort(docs, { ...q, _id: 1 }); }
    else if (kind === 'project') { a = D.oursProject(docs, q); b = D.mingoProject(docs, q); }
    else if (kind === 'update') { const r = docs.map((d: any) => D.compareUpdate(d, q)).filter((x: any) => x.verdict === 'differ'); a = r.map((x: any) => x.ours); b = r.map((x: any) => x.mingo); }
    else { const r = await D.comparePipeline(docs, q); if (r.verdict === 'differ') { a = r.ours; b = r.mingo; } }
  } catch (e) { a = "ERR " + (e as Error).message; b = "x"; if (fails === 0) console.log((e as Error).stack); }
  if (!isDeepStrictEqual(a, b)) {
    fails++;
    if (shown.length < 6) shown.push(inspect({ docs: docs.map(D.canon), q: D.canon(q), ours: a, mingo: b }, { depth: 8, breakLength: 200 }));
  }
}
console.log(kind, 'fails', fails, '/', N);
for (const s of shown) console.log(s, '\n---');
})();
