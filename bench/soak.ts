/**
 * Long crash soak: `npm run bench -- soak [kills] [lanes]` (default 10,000 kills, 4 lanes).
 * Same loop as test/crash/crash.test.ts: a child writes strict batches and is SIGKILLed at random
 * moments and at named points; after every kill the store is reopened and checked (0 acknowledged
 * batches lost, batches atomic, verify() every 10 kills). Data under /dev/shm when available
 * (SIGKILL keeps the page cache, so the outcome equals the on-disk one); pass ROOT=dir to override.
 * Each lane starts a fresh store every FRESH_EVERY kills (default 1,000; 0 = never): the check after
 * every kill reads the whole store, so one store kept for all kills makes the loop slower and slower.
 */
import { existsSync } from 'node:fs';
import process from 'node:process';
import { crashLoop } from '../test/crash/loop.ts';

const kills = Number(process.argv[2] ?? 10_000);
const lanes = Number(process.argv[3] ?? 4);
const root = process.env['ROOT'] ?? (existsSync('/dev/shm') ? '/dev/shm' : undefined);
console.log(`crash soak: ${kills} kills on ${lanes} lanes under ${root ?? 'the OS temp dir'}`);
const freshEvery = Number(process.env['FRESH_EVERY'] ?? 1000) || undefined;
console.log(`crash soak: a fresh store per lane every ${freshEvery ?? 'never'} kills`);
const r = await crashLoop({ kills, lanes, root, verifyEvery: 10, freshEvery, seed: Date.now() % 1e9, log: (l) => console.log(l) });
console.log(JSON.stringify(r, null, 2));
console.log(`OK: ${r.kills} kills in ${(r.ms / 1000).toFixed(0)} s, ${r.acked} acknowledged batches, 0 lost, 0 torn`);
