// Profiling helper (not part of the bench): 2,000 strict puts of 100-byte values from 64 concurrent callers, then 2,000
// sequential ones, on a fresh store in /tmp/seqab-store, using the storage engine of the source tree ROOT (A/B of builds:
// 'git archive REV src platform package.json | tar -x -C DIR' and a node_modules symlink in DIR). Prints 'concurrent/s sequential/s'.
//   node --import tsx bench/_documents/profile-storeseq.mts ROOT      (NOSPARE=1: walSpare false)
import * as fs from 'node:fs';
const root = process.argv[2];
const { openNodeFsAdapter } = await import(root + '/platform/node/fs-adapter.ts');
const { loadPlatformKernels } = await import(root + '/platform/node/kernels.ts');
const { installKernels } = await import(root + '/src/kernel/index.ts');
const { openStore } = await import(root + '/src/storage/index.ts');
await loadPlatformKernels().then((k: any) => installKernels(k), () => undefined);
const dir = '/tmp/seqab-store'; fs.rmSync(dir, { recursive: true, force: true }); fs.mkdirSync(dir);
const st = await openStore(await openNodeFsAdapter(dir), process.env.NOSPARE ? { walSpare: false } : {});
const key = (i: number) => { const b = new Uint8Array(16); new DataView(b.buffer).setUint32(0, i * 2654435761 >>> 0); new DataView(b.buffer).setUint32(4, i); return b; };
const val = new Uint8Array(100).fill(7);
let next = 0, t = performance.now();
await Promise.all(Array.from({ length: 64 }, async () => { while (next < 2000) { const i = next++; await st.put(key(i), val); } }));
const conc = 2000 / ((performance.now() - t) / 1000);
t = performance.now();
for (let i = 0; i < 2000; i++) await st.put(key(10000 + i), val);
const seq = 2000 / ((performance.now() - t) / 1000);
console.log(Math.round(conc), Math.round(seq));
await st.close();
