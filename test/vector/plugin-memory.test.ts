import { MemoryAdapter } from '../../platform/memory.ts';
import { pluginSuite } from './plugin.case.ts';

const volume = `vector-plugin-${Date.now()}`;
pluginSuite('memory', () => new MemoryAdapter(volume));
pluginSuite('memory', () => new MemoryAdapter(volume + '-ivf'), { kind: 'ivf', nlist: 4, nprobe: 4 });
pluginSuite('memory', () => new MemoryAdapter(volume + '-lsh'), { kind: 'lsh', tables: 2, bits: 2, probes: 2 });
