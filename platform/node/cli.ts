/**
 * Node entry of the `largetable` command: builds the CliHost (files, stdout, signals, progress
 * bar, readline with history) and runs src/cli/main.ts. `bin/largetable.js` imports this.
 */
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { appendFile, readFile, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, extname, dirname } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import cliProgress from 'cli-progress';
import { main } from '../../src/cli/main.ts';
import type { ByteSink, CliHost } from '../../src/cli/main.ts';
import { LargetableError } from '../../src/errors.ts';
import type { ClientLike } from '../../src/server/engine.ts';
import { simdSupported } from '../../src/kernel/index.ts';
import { kernelBuild, packageRoot, packageVersion, startServer } from './serve.ts';

/**
 * `open(location)` from the entry point `index` beside the module `moduleUrl` (loaded lazily,
 * so a build without the document API still runs the other commands); `name` is for errors.
 */
export async function openSiblingIndex(moduleUrl: string, name: string, location: string, options: Record<string, unknown> = {}): Promise<ClientLike> {
  const here = fileURLToPath(moduleUrl);
  const file = join(dirname(here), 'index' + extname(here));
  if (!existsSync(file)) throw new LargetableError('NOT_SUPPORTED', `the document API (${name}) is not available in this build`);
  const mod = (await import(pathToFileURL(file).href)) as { open?: (l: string, o: Record<string, unknown>) => Promise<unknown> };
  if (typeof mod.open !== 'function') throw new LargetableError('NOT_SUPPORTED', `${name} does not export open()`);
  return (await mod.open(location, options)) as ClientLike;
}

/** `open(location)` from the Node entry point (platform/node/index.ts), loaded lazily. */
export function openClient(location: string, options: Record<string, unknown> = {}): Promise<ClientLike> {
  return openSiblingIndex(import.meta.url, 'platform/node/index', location, options);
}

function fileSink(path: string): Promise<ByteSink> {
  if (path === '-') {
    return Promise.resolve({
      write: (chunk) => new Promise<void>((ok, fail) => process.stdout.write(chunk, (e) => (e ? fail(e) : ok()))),
      close: async () => {},
    });
  }
  const ws = createWriteStream(path);
  return new Promise((ok, fail) => {
    ws.once('error', (err) => fail(new LargetableError('IO_ERROR', `cannot write ${path}: ${err.message}`, { cause: err })));
    ws.once('open', () =>
      ok({
        write: (chunk) =>
          new Promise<void>((res, rej) => {
            if (!ws.write(chunk, (e) => e && rej(e))) ws.once('drain', () => res());
            else res();
          }),
        close: () => new Promise<void>((res) => ws.end(() => res())),
      }),
    );
  });
}

async function* fileChunks(path: string): AsyncGenerator<Uint8Array> {
  if (!existsSync(path)) throw new LargetableError('NOT_FOUND', `file not found: ${path}`);
  for await (const chunk of createReadStream(path, { highWaterMark: 256 * 1024 })) {
    const b = chunk as Buffer;
    yield new Uint8Array(b.buffer, b.byteOffset, b.length);
  }
}

function lineReader(): (prompt: string) => Promise<string | undefined> {
  const historyFile = join(homedir(), '.largetable_history');
  const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: process.stdin.isTTY === true, historySize: 1000 });
  const hist = (rl as unknown as { history?: string[] }).history;
  if (hist && existsSync(historyFile)) {
    void readFile(historyFile, 'utf8').then((t) => hist.push(...t.split('\n').filter(Boolean).reverse().slice(0, 1000))).catch(() => {});
  }
  const lines: string[] = [];
  const waiters: ((l: string | undefined) => void)[] = [];
  let closed = false;
  let saving: Promise<void> = Promise.resolve();
  rl.on('line', (l) => {
    // Appends are chained so the history file keeps the typed order.
    if (l.trim()) saving = saving.then(() => appendFile(historyFile, l + '\n')).catch(() => {});
    const w = waiters.shift();
    if (w) w(l);
    else lines.push(l);
  });
  rl.on('close', () => {
    closed = true;
    for (const w of waiters.splice(0)) w(undefined);
  });
  return (prompt) => {
    if (lines.length) return Promise.resolve(lines.shift());
    if (closed) return Promise.resolve(undefined);
    rl.setPrompt(prompt);
    rl.prompt();
    return new Promise((r) => waiters.push(r));
  };
}

export function nodeHost(): CliHost {
  let reader: ((p: string) => Promise<string | undefined>) | undefined;
  const host: CliHost = {
    runtime: `node ${process.versions.node}`,
    version: packageVersion(),
    env: process.env,
    out: (t) => void process.stdout.write(t),
    err: (t) => void process.stderr.write(t),
    async kernelInfo() {
      const build = await kernelBuild();
      const root = packageRoot();
      const source = import.meta.url.includes('/dist/') ? 'dist' : 'source (tsx)';
      return { build, simd: simdSupported(), source: `${source}; wasm ${existsSync(join(root, 'build', 'simd.wasm')) ? 'built' : 'not built'}` };
    },
    async readText(path) {
      try {
        return await readFile(path, 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw new LargetableError('IO_ERROR', `cannot read ${path}: ${(err as Error).message}`, { cause: err });
      }
    },
    async fileSize(path) {
      try {
        return (await stat(path)).size;
      } catch {
        throw new LargetableError('NOT_FOUND', `file not found: ${path}`);
      }
    },
    readChunks: fileChunks,
    createWriter: fileSink,
    async open(location, options) {
      await kernelBuild();
      return openClient(location, options);
    },
    async connect(url) {
      const { MongoClient } = (await import('mongodb').catch(() => {
        throw new LargetableError('NOT_SUPPORTED', 'connecting to a server needs the `mongodb` package (npm i mongodb)');
      })) as typeof import('mongodb');
      const c = new MongoClient(url, { serverSelectionTimeoutMS: 5000 });
      await c.connect();
      return c as unknown as ClientLike;
    },
    serve: (config, client, logger) => {
      // Safety net: a stray rejection is logged, the server keeps serving.
      process.on('unhandledRejection', (err) => logger.error('unhandled rejection', { err }));
      return startServer({ config, client, logger });
    },
    onShutdown(handler) {
      let done = false;
      const on = (sig: string): void => {
        if (done) {
          process.exit(130);
        }
        done = true;
        void handler(sig).then(() => process.exit(0));
      };
      process.once('SIGINT', () => on('SIGINT'));
      process.once('SIGTERM', () => on('SIGTERM'));
    },
    progress(total, label) {
      if (!process.stderr.isTTY) return { update() {}, stop() {} };
      const bar = new cliProgress.SingleBar({ format: `${label} [{bar}] {percentage}% | {value}/{total} bytes`, stream: process.stderr }, cliProgress.Presets.shades_classic);
      bar.start(total, 0);
      return { update: (n) => bar.update(Math.min(n, total)), stop: () => bar.stop() };
    },
    get readLine() {
      reader ??= lineReader();
      return reader;
    },
    stdinIsTTY: process.stdin.isTTY === true,
  };
  return host;
}

/** Run the CLI for this process and exit with its code (except for `serve`, which exits on a signal). */
export async function run(argv = process.argv.slice(2)): Promise<void> {
  const code = await main(argv, nodeHost());
  process.exitCode = code;
  if (argv[0] === 'shell' || (argv[0] === 'serve' && code !== 0)) process.exit(code);
  else if (argv[0] !== 'serve') setTimeout(() => process.exit(code), 50).unref();
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) void run();
