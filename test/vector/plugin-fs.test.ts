import { after } from 'node:test';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { openNodeFsAdapter } from '../../platform/node/fs-adapter.ts';
import { pluginSuite } from './plugin.case.ts';

const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'lt-vector-'));
after(() => Promise.all(['', '-ivf', '-lsh'].map((x) => fs.rm(dir + x, { recursive: true, force: true }))));
pluginSuite('filesystem', () => openNodeFsAdapter(dir));
pluginSuite('filesystem', () => openNodeFsAdapter(dir + '-ivf'), { kind: 'ivf', nlist: 4, nprobe: 4 });
pluginSuite('filesystem', () => openNodeFsAdapter(dir + '-lsh'), { kind: 'lsh', tables: 2, bits: 2, probes: 2 });
