// Shared by the profiling helpers (profile-*.ts; not part of the bench): CPU-profiles one phase with the
// in-process inspector and writes DIR/NAME.cpuprofile (summarise with any .cpuprofile viewer). The sampling
// interval is V8's default (~1 ms) unless PROF_INTERVAL_US sets it (e.g. 100: finer, for short phases).
import fs from 'node:fs';
import { Session } from 'node:inspector/promises';

let session: Session | undefined;

/** Runs `fn`; with `profDir`, under the CPU profiler, its profile written to `${profDir}/${name}.cpuprofile`. */
export async function cpuProfiled<T>(profDir: string | undefined, name: string, fn: () => Promise<T>): Promise<T> {
  if (!profDir) return fn();
  if (!session) {
    session = new Session();
    session.connect();
    await session.post('Profiler.enable');
    if (process.env.PROF_INTERVAL_US) await session.post('Profiler.setSamplingInterval', { interval: +process.env.PROF_INTERVAL_US });
  }
  await session.post('Profiler.start');
  const out = await fn();
  const { profile } = await session.post('Profiler.stop');
  fs.mkdirSync(profDir, { recursive: true });
  fs.writeFileSync(`${profDir}/${name}.cpuprofile`, JSON.stringify(profile));
  return out;
}
