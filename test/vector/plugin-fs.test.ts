import { after } from 'node:test';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { openNodeFsAdapter } from '../../platform/node/fs-adapter.ts';
import { pluginSuite } from './plugin.case.ts';

const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'lt-vector-'));
after(() => fs.rm(dir, { recursive: true, force: true }));
pluginSuite('filesystem', () => openNodeFsAdapter(dir));
