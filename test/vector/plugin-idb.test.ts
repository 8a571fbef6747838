import 'fake-indexeddb/auto';
import { openIdbAdapter } from '../../platform/browser/idb-adapter.ts';
import { pluginSuite } from './plugin.case.ts';

const name = `vector-plugin-${Date.now()}`;
pluginSuite('indexeddb (fake-indexeddb)', () => openIdbAdapter(name));
pluginSuite('indexeddb (fake-indexeddb)', () => openIdbAdapter(name + '-ivf'), { kind: 'ivf', nlist: 4, nprobe: 4 });
pluginSuite('indexeddb (fake-indexeddb)', () => openIdbAdapter(name + '-lsh'), { kind: 'lsh', tables: 2, bits: 2, probes: 2 });
