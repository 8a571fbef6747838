// Start `largetable serve` as a child process on ephemeral ports and read the ready line.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export interface Child {
  proc: ChildProcess;
  port: number;
  mongoPort: number;
  http: string;
  data: string;
  stderr: () => string;
  /** SIGTERM and wait for exit; returns the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export function tempDir(prefix = 'lt-server-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** `node --import tsx platform/node/cli.ts serve --port 0 --mongo-port 0 ...`. */
export async function startServerProcess(extra: string[] = [], data = tempDir(), runtime: 'node' | 'deno' = 'node'): Promise<Child> {
  const entry = runtime === 'node'
    ? [process.execPath, '--import', 'tsx', join(repoRoot, 'platform/node/cli.ts')]
    : [join(repoRoot, 'node_modules/.bin/deno'), 'run', '-A', join(repoRoot, 'platform/deno/cli.ts')];
  const proc = spawn(entry[0]!, [...entry.slice(1), 'serve', '--data', data, '--port', '0', '--mongo-port', '0', ...(extra.includes('--log-level') ? [] : ['--log-level', 'warn']), ...extra], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, LARGETABLE_PORT: '', LARGETABLE_MONGO_PORT: '' },
  });
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const ready = await new Promise<{ port: number; mongoPort: number; http: string }>((ok, fail) => {
    let out = '';
    const timer = setTimeout(() => fail(new Error(`server did not start in 90 s: ${err}`)), 90_000);
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n').find((l) => l.startsWith('{"ready":true'));
      if (line) {
        clearTimeout(timer);
        ok(JSON.parse(line));
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`server exited with ${code}: ${err}`));
    });
  });
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  return {
    proc, ...ready, data,
    stderr: () => err,
    async stop(signal = 'SIGTERM') {
      if (proc.exitCode === null) proc.kill(signal);
      const t = setTimeout(() => proc.kill('SIGKILL'), 15_000);
      const code = await exited;
      clearTimeout(t);
      return code;
    },
  };
}
