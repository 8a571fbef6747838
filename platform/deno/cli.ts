/**
 * Deno entry of the `largetable` command (`npx deno run -A platform/deno/cli.ts ...` or
 * `deno run -A bin/largetable.js ...`): the Node host's file and terminal helpers (they use
 * `node:` modules, which Deno provides) with Deno's server, kernels and `open`.
 */
import { existsSync } from 'node:fs';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { main } from '../../src/cli/main.ts';
import type { CliHost } from '../../src/cli/main.ts';
import { LargetableError } from '../../src/errors.ts';
import type { ClientLike } from '../../src/server/engine.ts';
import { simdSupported } from '../../src/kernel/index.ts';
import { nodeHost } from '../node/cli.ts';
import { denoKernelBuild, startDenoServer } from './serve.ts';

interface DenoGlobal {
  version: { deno: string };
  args: string[];
  exit(code: number): never;
  addSignalListener(sig: 'SIGINT' | 'SIGTERM', fn: () => void): void;
}
declare const Deno: DenoGlobal;

async function openDeno(location: string): Promise<ClientLike> {
  const here = fileURLToPath(import.meta.url);
  const file = join(dirname(here), 'index' + extname(here));
  if (!existsSync(file)) throw new LargetableError('NOT_SUPPORTED', 'the document API (platform/deno/index) is not available in this build');
  const mod = (await import(pathToFileURL(file).href)) as { open?: (l: string) => Promise<unknown> };
  if (typeof mod.open !== 'function') throw new LargetableError('NOT_SUPPORTED', 'platform/deno/index does not export open()');
  return (await mod.open(location)) as ClientLike;
}

export function denoHost(): CliHost {
  const base = nodeHost();
  return Object.assign(base, {
    runtime: `deno ${Deno.version.deno}`,
    async kernelInfo() {
      return { build: await denoKernelBuild(), simd: simdSupported(), source: 'source (deno)' };
    },
    async open(location: string) {
      await denoKernelBuild();
      return openDeno(location);
    },
    serve: (config, client, logger) => startDenoServer({ config, client, logger }),
    onShutdown(handler) {
      let done = false;
      const on = (sig: string): void => {
        if (done) Deno.exit(130);
        done = true;
        void handler(sig).then(() => Deno.exit(0));
      };
      Deno.addSignalListener('SIGINT', () => on('SIGINT'));
      Deno.addSignalListener('SIGTERM', () => on('SIGTERM'));
    },
  } satisfies Partial<CliHost>);
}

export async function run(argv: string[] = Deno.args): Promise<void> {
  const code = await main(argv, denoHost());
  if (argv[0] !== 'serve' || code !== 0) Deno.exit(code);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) void run();
