// Profiling helper (not part of the bench): where the documents bench's cold open goes (runner.mjs (i):
// import + open + createIndex + first findOne by _id), in a fresh process, on a store loaded by the bench
// (copy it first: the open writes a new WAL and edits the manifest, after open() returns).
//   node --import tsx bench/_documents/profile-coldopen.mjs ROOT STOREDIR --bench [TAG]
//     ROOT's node bundle as the bench's adapter uses it: wall and CPU of import, open, idx, get (one JSON line;
//     alternate two ROOTs, e.g. a copy of dist/ and build/ with package.json and a node_modules link, and take medians)
//   node bench/_documents/profile-coldopen.mjs ROOT STOREDIR [ID]        (PROF=FILE.cpuprofile: profile after the imports)
//     the bundle's import, then the same open through ROOT's per-file dist modules: kernels (wasm read, compile,
//     instantiate), adapter open, store open (lock, manifest, segment opens, WAL scan; the new WAL + manifest
//     edit run after it returns, their calls in `ioAfter`;
//     every adapter and handle call timed: `io`, summed over calls that may overlap), document engine open
//     (catalog), the two createIndex calls, the first findOne
import { performance } from 'node:perf_hooks';
import path from 'node:path';
const [rootArg, dir, arg3 = 'a087eaf300b349c9', arg4 = 'x'] = process.argv.slice(2);
const root = path.resolve(rootArg);
const now = () => performance.now();
const out = {}, cpu = {};
let c0 = process.cpuUsage();
const cpuMark = (k) => { const c = process.cpuUsage(c0); cpu[k] = +((c.user + c.system) / 1000).toFixed(1); c0 = process.cpuUsage(); };
const id = 'a087eaf300b349c9'; // the bench's first id (makeIdList(N, 1).at(0))

if (arg3 === '--bench') {
  let t = now();
  const mark = (k) => { out[k] = +(now() - t).toFixed(1); cpuMark(k); t = now(); };
  const mod = await import(path.join(root, 'dist/platform/node/bundle.js'));
  mark('import');
  const client = await mod.open(dir, { durability: 'strict', ttlMonitor: false });
  mark('open');
  const c = client.db('bench').collection('docs');
  await c.createIndex({ city: 1 });
  await c.createIndex({ age: 1 });
  mark('idx');
  if (!(await c.findOne({ _id: id }))) throw new Error('first get returned nothing');
  mark('get');
  const sum = (o) => +(o.import + o.open + o.idx + o.get).toFixed(1);
  console.log(JSON.stringify({ tag: arg4, ...out, total: sum(out), cpu: { ...cpu, total: sum(cpu) } }));
  await client.close();
  process.exit(0);
}

let t = now();
await import(path.join(root, 'dist/platform/node/bundle.js'));
out.importBundle = now() - t; cpuMark('importBundle');
const [{ loadPlatformKernels }, { openAdapter }, { openStore }, { Engine }, client] = await Promise.all([
  import(path.join(root, 'dist/platform/node/kernels.js')), import(path.join(root, 'dist/platform/node/storage.js')),
  import(path.join(root, 'dist/src/storage/index.js')), import(path.join(root, 'dist/src/document/engine.js')),
  import(path.join(root, 'dist/platform/node/index.js'))]);
const profFile = process.env.PROF; // a .cpuprofile of everything after the imports
let session;
if (profFile) {
  const { Session } = await import('node:inspector/promises');
  session = new Session(); session.connect();
  await session.post('Profiler.enable'); await session.post('Profiler.setSamplingInterval', { interval: 50 }); await session.post('Profiler.start');
}
c0 = process.cpuUsage();
const io = {};
const note = (k, ms) => { io[k] = (io[k] ?? 0) + ms; io[k + '#'] = (io[k + '#'] ?? 0) + 1; };
const timed = (obj, label) => new Proxy(obj, { get(o, p) {
  const v = o[p];
  if (typeof v !== 'function') return v;
  return (...a) => { const s = now(); const r = v.apply(o, a);
    if (r && typeof r.then === 'function') return r.then((x) => { note(`${label}.${String(p)}`, now() - s); return (p === 'open' && label === 'a') ? timed(x, 'h') : x; });
    note(`${label}.${String(p)}`, now() - s); return r; };
} });
t = now(); await loadPlatformKernels(); out.kernels = now() - t; cpuMark('kernels');
t = now(); const adapter = await openAdapter(dir); out.adapterOpen = now() - t; cpuMark('adapterOpen');
t = now(); const store = await openStore(timed(adapter, 'a'), { durability: 'strict' }); out.storeOpen = now() - t; cpuMark('storeOpen');
const ioOpen = { ...io }; for (const k of Object.keys(io)) delete io[k];
t = now(); const engine = await Engine.open(store, {}); out.engineOpen = now() - t; cpuMark('engineOpen');
const c = new client.LargetableClient(dir, { store: { close: () => store.close() } });
// createIndex + get through the public API on the opened engine
c._engine = engine;
const coll = c.db('bench').collection('docs');
t = now(); await coll.createIndex({ city: 1 }); await coll.createIndex({ age: 1 }); out.createIndex = now() - t; cpuMark('createIndex');
t = now(); const d = await coll.findOne({ _id: arg3 }); out.firstGet = now() - t; cpuMark('firstGet');
if (!d) throw new Error('first get returned nothing');
for (const k of Object.keys(out)) out[k] = +out[k].toFixed(1);
for (const k of Object.keys(ioOpen)) ioOpen[k] = +ioOpen[k].toFixed(2);
console.log(JSON.stringify({ ...out, cpu, io: ioOpen, ioAfter: Object.fromEntries(Object.entries(io).map(([k, v]) => [k, +v.toFixed(2)])) }));
if (session) { const { profile } = await session.post('Profiler.stop'); (await import('node:fs')).writeFileSync(profFile, JSON.stringify(profile)); }
await store.close();
process.exit(0);
