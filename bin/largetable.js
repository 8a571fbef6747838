#!/usr/bin/env node
// The `largetable` command. Node: runs the compiled CLI (dist/, from `npm run build`), or the
// TypeScript sources through tsx in a checkout that was not built. Deno (`deno run -A
// bin/largetable.js`): runs platform/deno/cli.ts directly.
import { existsSync } from 'node:fs';

const here = (p) => new URL(p, import.meta.url);
if (typeof globalThis.Deno !== 'undefined') {
  const m = await import(here('../platform/deno/cli.ts').href);
  await m.run(globalThis.Deno.args);
} else if (existsSync(here('../dist/platform/node/cli.js'))) {
  const m = await import(here('../dist/platform/node/cli.js').href);
  await m.run(process.argv.slice(2));
} else {
  try {
    const { register } = await import('tsx/esm/api');
    register();
  } catch {
    console.error('largetable: not built; run `npm run build` first');
    process.exit(1);
  }
  const m = await import(here('../platform/node/cli.ts').href);
  await m.run(process.argv.slice(2));
}
