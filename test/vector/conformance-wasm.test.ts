/** The conformance suite again on the wasm kernels (SIMD build when the runtime has SIMD). */
import { loadPlatformKernels } from '../../platform/node/kernels.ts';
import { conformance } from './conformance.case.ts';

const k = await loadPlatformKernels({ install: false });
conformance(() => k, { name: `flat (${k.build})`, options: { kind: 'flat' }, exact: true });
conformance(() => k, { name: `hnsw (${k.build})`, options: { kind: 'hnsw', M: 12, efConstruction: 200, efSearch: 600 }, exact: true });
conformance(() => k, { name: `ivf none (${k.build})`, options: { kind: 'ivf', quantization: 'none', nlist: 8, nprobe: 8, trainSize: 100 }, exact: true });
conformance(() => k, { name: `ivf sq8 (${k.build})`, options: { kind: 'ivf', quantization: 'sq8', nlist: 8, nprobe: 8, trainSize: 100 }, exact: false }, ['l2', 'cosine']);
conformance(() => k, { name: `lsh (${k.build})`, options: { kind: 'lsh', tables: 8, bits: 6, probes: 6 }, exact: false });
