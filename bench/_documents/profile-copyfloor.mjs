// Profiling helper (not part of the bench): the least a copying engine can spend on the documents bench's
// equality and get phases. Every document is already decoded in memory, as LokiJS keeps them; "refs" hands
// out the stored objects (LokiJS's contract), "copy" gives the caller its own document as the MongoDB driver
// does, by the cheapest copy there is: a hand-written clone of the bench's known shape (no decode, no
// lookup, no I/O). Equality: the bench's 20 cities, median ms per query; gets: each id once in the bench's
// order, p50 µs per get (timed as the bench times them, awaiting each).
//   node bench/_documents/profile-copyfloor.mjs [--docs=100000]
import { makeIds, makeDoc, eqParams, shuffled, median, pct, now } from './workload.mjs';

const arg = (k) => process.argv.find((a) => a.startsWith(`--${k}=`))?.slice(k.length + 3);
const N = +(arg('docs') ?? 100000);
const ids = makeIds(N, 1), docs = ids.map((id, i) => makeDoc(id, i));
const byCity = new Map(), byId = new Map();
for (const d of docs) {
  byId.set(d._id, d);
  let a = byCity.get(d.city);
  if (a === undefined) byCity.set(d.city, (a = []));
  a.push(d);
}
const copy = (d) => ({ _id: d._id, name: d.name, age: d.age, city: d.city, score: d.score, tags: [d.tags[0], d.tags[1], d.tags[2]], createdAt: new Date(d.createdAt.getTime()), bio: d.bio });
const refsOf = (city) => byCity.get(city).slice();
const copiesOf = (city) => byCity.get(city).map(copy);
const eq = { refs: [], copy: [] };
let rows = 0;
for (const city of eqParams(20)) {
  let t = now();
  rows = refsOf(city).length;
  eq.refs.push(now() - t);
  t = now();
  copiesOf(city);
  eq.copy.push(now() - t);
}
const call = async (r) => (r && typeof r.then === 'function' ? await r : r);
const gets = { refs: [], copy: [] };
const order = shuffled(ids, 3);
for (let i = 0; i < order.length; i++) {
  const id = order[i];
  let t = now();
  await call(byId.get(id));
  gets.refs.push(now() - t);
  t = now();
  await call(copy(byId.get(id)));
  gets.copy.push(now() - t);
}
const p50 = (a) => pct(a.sort((x, y) => x - y), 50) * 1000;
console.log(`equality (${rows} rows in the last): refs ${median(eq.refs).toFixed(3)} ms, copy ${median(eq.copy).toFixed(3)} ms (${((median(eq.copy) / rows) * 1000).toFixed(2)} µs per document)`);
console.log(`gets: refs p50 ${p50(gets.refs).toFixed(2)} µs, copy p50 ${p50(gets.copy).toFixed(2)} µs`);
