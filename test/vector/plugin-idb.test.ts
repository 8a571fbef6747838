import 'fake-indexeddb/auto';
import { openIdbAdapter } from '../../platform/browser/idb-adapter.ts';
import { pluginSuite } from './plugin.case.ts';

const name = `vector-plugin-${Date.now()}`;
pluginSuite('indexeddb (fake-indexeddb)', () => openIdbAdapter(name));
