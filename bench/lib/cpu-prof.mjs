/**
 * Preload (`NODE_OPTIONS=--import=/abs/path/bench/lib/cpu-prof.mjs`) that profiles a whole process
 * with the V8 CPU profiler and writes `CPU_PROF_DIR/<pid>.cpuprofile` when it exits — for apps
 * started by the e2e harness, where `--cpu-prof` is not allowed in NODE_OPTIONS. Open the file in
 * Chrome DevTools, or summarise it with `bench/profile-summary.ts`.
 */
import { Session } from 'node:inspector';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.env.CPU_PROF_DIR ?? '/tmp';
const session = new Session();
session.connect();
session.post('Profiler.enable');
session.post('Profiler.start');
process.on('exit', () => {
  // a same-thread session answers synchronously, so this works inside 'exit'
  session.post('Profiler.stop', (err, res) => {
    if (err) return;
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `${process.pid}.cpuprofile`), JSON.stringify(res.profile));
  });
});
