/**
 * The dedicated module Worker of the OPFS adapter (platform/browser/opfs-adapter.ts): it holds the
 * FileSystemSyncAccessHandles and answers the page's requests one at a time. Bundled as
 * `opfs.worker.js` next to the adapter; started by `openOpfsAdapter` on a page.
 */
import { serveOpfsWorker } from './opfs-adapter.ts';

serveOpfsWorker(globalThis as unknown as Parameters<typeof serveOpfsWorker>[0]);
