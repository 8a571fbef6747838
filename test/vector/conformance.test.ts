import { createReferenceKernels } from '../../src/kernel/reference.ts';
import { conformance, type Case } from './conformance.case.ts';

const cases: Case[] = [
  { name: 'flat', options: { kind: 'flat' }, exact: true },
  { name: 'hnsw', options: { kind: 'hnsw', M: 12, efConstruction: 200, efSearch: 600 }, exact: true },
  { name: 'ivf none', options: { kind: 'ivf', quantization: 'none', nlist: 8, nprobe: 8, trainSize: 100 }, exact: true },
  { name: 'ivf sq8', options: { kind: 'ivf', quantization: 'sq8', nlist: 8, nprobe: 8, trainSize: 100, storeVectors: true, rerank: 8 }, exact: false },
  { name: 'ivf sq8 no raw', options: { kind: 'ivf', quantization: 'sq8', nlist: 8, nprobe: 8, trainSize: 100 }, exact: false },
  { name: 'ivf pq', options: { kind: 'ivf', quantization: 'pq', nlist: 4, nprobe: 4, trainSize: 300, pqM: 4 }, exact: false },
  { name: 'lsh', options: { kind: 'lsh', tables: 8, bits: 6, probes: 6 }, exact: false },
];

const kernels = createReferenceKernels();
for (const c of cases) {
  if (c.options.kind === 'ivf' && c.options.quantization !== 'none') {
    conformance(() => kernels, c, ['l2', 'cosine']);
  } else conformance(() => kernels, c);
}
