import { MemoryAdapter } from '../../platform/memory.ts';
import { pluginSuite } from './plugin.case.ts';

const volume = `vector-plugin-${Date.now()}`;
pluginSuite('memory', () => new MemoryAdapter(volume));
