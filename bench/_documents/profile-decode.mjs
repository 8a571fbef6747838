// Profiling helper (not part of the bench): the cost of decoding one stored document into a JS
// object, ns per document, for the engine's decoder (decodeFastAt, with Node's native UTF-8 slice
// installed as the engine does) and for a hand-written decoder of the bench's one document shape
// without checks (a floor). The bench's documents (workload.mjs makeDoc, N of them) are encoded with
// the engine's encoder into one buffer, back to back (as in a store block). "hot" decodes the same
// 256 documents over and over; "cold" decodes all N in a shuffled order (most from memory, not cache).
//   node bench/_documents/profile-decode.mjs [--dist=DIR ...] [--n=100000] [--rounds=15] [--only=K]
// With several --dist=DIR (built dist/ directories, each with node_modules reachable above it) their
// decoders are loaded in this one process and timed in alternation, round by round (each round's
// order reversed from the last), so all see the same load: medians per build (default dist/).
// --only=K times decoder K alone (0-based; the hand one is last), for node --cpu-prof.
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { makeIds, makeDoc, rng } from './workload.mjs';

const arg = (k) => process.argv.find((a) => a.startsWith(`--${k}=`))?.slice(k.length + 3);
const here = path.dirname(fileURLToPath(import.meta.url));
const dists = process.argv.filter((a) => a.startsWith('--dist=')).map((a) => path.resolve(a.slice(7)));
const N = +(arg('n') ?? 100000);
const rounds = +(arg('rounds') ?? 15);

if (dists.length === 0) dists.push(path.resolve(here, '../../dist'));
const decoders = [];
for (const dist of dists) {
  const imp = (p) => import(pathToFileURL(path.join(dist, p)).href);
  decoders.push((await imp('src/document/bsonraw.js')).decodeFastAt);
  await (await imp('platform/node/kernels.js')).loadPlatformKernels();
}
const { encodeFast } = await import(pathToFileURL(path.join(dists[0], 'src/document/bsonencode.js')).href);

// the documents back to back in one buffer
const ids = makeIds(N, 1);
const parts = [];
let total = 0;
for (let i = 0; i < N; i++) {
  const b = encodeFast(makeDoc(ids[i], i));
  parts.push(b);
  total += b.length;
}
const buf = new Uint8Array(total);
const offs = new Int32Array(N);
const lens = new Int32Array(N);
for (let i = 0, p = 0; i < N; i++) {
  buf.set(parts[i], p);
  offs[i] = p;
  lens[i] = parts[i].length;
  p += parts[i].length;
}
parts.length = 0;
const r = rng(5);
const order = Int32Array.from({ length: N }, (_, i) => i);
for (let i = N - 1; i > 0; i--) {
  const j = Math.floor(r() * (i + 1));
  [order[i], order[j]] = [order[j], order[i]];
}

// ---- the hand-written floor: this one shape (_id name age city score tags createdAt bio), no checks
const utf8Slice = Buffer.prototype.utf8Slice;
const f64 = new Float64Array(1);
const f64b = new Uint8Array(f64.buffer);
const i32 = (b, o) => b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24);
function D(a, b, c, d, e, f, g, h) {
  this._id = a; this.name = b; this.age = c; this.city = d; this.score = e; this.tags = f; this.createdAt = g; this.bio = h;
}
D.prototype = Object.prototype;
function hstr(b, o) { const n = i32(b, o); hp = o + 4 + n; return utf8Slice.call(b, o + 4, o + 3 + n); }
let hp = 0;
function skipName(b, o) { while (b[o] !== 0) o++; return o + 1; }
function hand(b, off) {
  let o = skipName(b, off + 5);
  const id = hstr(b, o);
  o = skipName(b, hp + 1);
  const name = hstr(b, o);
  o = skipName(b, hp + 1);
  const age = i32(b, o);
  o = skipName(b, o + 5);
  const city = hstr(b, o);
  o = skipName(b, hp + 1);
  for (let i = 0; i < 8; i++) f64b[i] = b[o + i];
  const score = f64[0];
  o = skipName(b, o + 9);
  const end = o + i32(b, o) - 1;
  let p = o + 4;
  const tags = [];
  while (p < end) {
    p = skipName(b, p + 1);
    tags.push(hstr(b, p));
    p = hp;
  }
  o = skipName(b, end + 2);
  const createdAt = new Date(i32(b, o + 4) * 4294967296 + (i32(b, o) >>> 0));
  o = skipName(b, o + 9);
  const bio = hstr(b, o);
  return new D(id, name, age, city, score, tags, createdAt, bio);
}

// every decoder must agree with the first (the hand one too, or it measures something else)
for (const i of [0, 7, N - 1]) {
  const want = JSON.stringify(decoders[0](buf, offs[i], lens[i]));
  for (const fn of [...decoders, hand]) if (JSON.stringify(fn(buf, offs[i], lens[i])) !== want) throw new Error(`decoders differ at ${i}`);
}

// one timing loop per decoder (compiled apart: a loop shared by several decoders would call them
// and read their documents polymorphically)
const timerSrc = `let sink = 0;
  return (idx, reps) => {
    const t = process.hrtime.bigint();
    for (let r = 0; r < reps; r++) for (let k = 0; k < idx.length; k++) { const i = idx[k]; sink ^= fn(buf, offs[i], lens[i]).age; }
    if (sink === 0.5) console.log('');
    return Number(process.hrtime.bigint() - t) / (reps * idx.length);
  };`;
const timers = new Map();
const timeIt = (fn, idx, reps) => {
  if (!timers.has(fn)) timers.set(fn, new Function('fn', 'buf', 'offs', 'lens', 'process', 'console', timerSrc)(fn, buf, offs, lens, process, console));
  return timers.get(fn)(idx, reps);
};
const hotIdx = order.subarray(0, 256);
const fns = [...decoders, hand];
const names = [...dists, 'hand'];
// --only=K: time decoder K (0-based, hand = the last) only, hot, many times over (for a CPU profile)
if (arg('only') !== undefined) {
  const fn = fns[+arg('only')];
  for (let k = 0; k < 20; k++) timeIt(fn, hotIdx, 400);
  process.exit(0);
}
for (const fn of fns) timeIt(fn, hotIdx, 400); // warm up
const hot = fns.map(() => []);
const cold = fns.map(() => []);
for (let r = 0; r < rounds; r++) {
  for (let k = 0; k < fns.length; k++) {
    const i = (r & 1) === 0 ? k : fns.length - 1 - k;
    hot[i].push(timeIt(fns[i], hotIdx, 200));
    cold[i].push(timeIt(fns[i], order, 1));
  }
}
const med = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
for (let i = 0; i < fns.length; i++) console.log(`${names[i]}: hot ${Math.round(med(hot[i]))} cold ${Math.round(med(cold[i]))} ns/doc (medians of ${rounds})`);
