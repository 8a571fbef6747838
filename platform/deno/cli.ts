/**
 * Deno entry of the `largetable` command (`npx deno run -A platform/deno/cli.ts ...` or
 * `deno run -A bin/largetable.js ...`): the Node host's file and terminal helpers (they use
 * `node:` modules, which Deno provides) with Deno's server, kernels and `open`.
 */
import { pathToFileURL } from 'node:url';
import { main } from '../../src/cli/main.ts';
import type { CliHost } from '../../src/cli/main.ts';
import type { ClientLike } from '../../src/server/engine.ts';
import { simdSupported } from '../../src/kernel/index.ts';
import { nodeHost, openSiblingIndex } from '../node/cli.ts';
import { denoKernelBuild, startDenoServer } from './serve.ts';

interface DenoGlobal {
  version: { deno: string };
  args: string[];
  exit(code: number): never;
  addSignalListener(sig: 'SIGINT' | 'SIGTERM', fn: () => void): void;
}
declare const Deno: DenoGlobal;

function openDeno(location: string, options: Record<string, unknown> = {}): Promise<ClientLike> {
  return openSiblingIndex(import.meta.url, 'platform/deno/index', location, options);
}

export function denoHost(): CliHost {
  const base = nodeHost();
  return Object.assign(base, {
    runtime: `deno ${Deno.version.deno}`,
    async kernelInfo() {
      return { build: await denoKernelBuild(), simd: simdSupported(), source: 'source (deno)' };
    },
    async open(location: string, options?: Record<string, unknown>) {
      await denoKernelBuild();
      return openDeno(location, options);
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
