/**
 * SIGTERM rolling restart under load: 3 workers, incident_triage runs with 50 ms tool latency
 * submitted at a steady pace; each worker in turn gets a replacement started, then SIGTERM, and must
 * exit 0 after handing its runs back (`run_requeued`). Rolled ROUNDS times. No run may fail or be
 * lost.
 *
 *   pnpm exec tsx chaos/rolling-restart.ts [--short] [--runs=300] [--rounds=2]
 */
import { arg } from '../bench/lib/util.js';
import { chaosSystem, duplicates, finish, load, paced, runEvents, say, settle, SHORT, simCalls, sleep, watchdog, startSystem } from './lib.js';

const RUNS = arg('runs', SHORT ? 50 : 300);
const ROUNDS = arg('rounds', SHORT ? 1 : 2);
watchdog(SHORT ? 60_000 : 600_000);

const loadBefore = load();
const { server, System, admin } = await chaosSystem();
const sys = await startSystem(System, { workers: 3, simEnv: { SIM_LATENCY_MS: '50' } });
const t0 = Date.now();
const gen = paced(sys, 'incident_triage', (i) => ({ service: `svc${i % 50}`, incident_id: `inc_${i}` }), RUNS, SHORT ? 12 : 15);

const exitCodes: Array<number | null> = [];
let restarts = 0;
await sleep(1_000);
for (let round = 0; round < ROUNDS; round++) {
  for (const old of sys.workers.filter((w) => w.child.exitCode === null && w.child.signalCode === null)) {
    await sys.startWorker();
    old.child.kill('SIGTERM');
    exitCodes.push(await old.exited);
    restarts++;
    await sleep(SHORT ? 300 : 1_000);
  }
}
await gen.done;
const out = await settle(admin, sys.prefix, gen.accepted, SHORT ? 30_000 : 180_000);
const requeued = (await runEvents(admin, sys.prefix, gen.accepted)).flat().filter((e) => e.type === 'run_requeued').length;
const d = duplicates(await simCalls(sys), new Set(gen.accepted));
const seconds = ((Date.now() - t0) / 1000).toFixed(1);
say(`worker exit codes: ${exitCodes.join(',')}; load before ${loadBefore}, after ${load()}`);
await sys.stop().catch(() => undefined);
await admin.quit();
await server.stop();

const failures: string[] = [];
if (out.lost.length) failures.push(`${out.lost.length} runs lost`);
if ((out.counts.succeeded ?? 0) !== gen.accepted.length) failures.push(`not every run succeeded: ${JSON.stringify(out.counts)}`);
if (gen.accepted.length !== RUNS) failures.push(`API refused submissions: ${JSON.stringify(gen.rejected)}`);
if (exitCodes.some((c) => c !== 0)) failures.push(`a worker did not exit 0 on SIGTERM: ${exitCodes.join(',')}`);
if (d.repeatedEffects) failures.push(`${d.repeatedEffects} side effects executed twice`);
finish({
  runs: gen.accepted.length, succeeded: out.counts.succeeded ?? 0, lost: out.lost.length, duplicated_nodes: d.duplicatedNodes.length,
  failed: out.counts.failed ?? 0, restarts, requeued_runs: requeued, worker_exit_nonzero: exitCodes.filter((c) => c !== 0).length, seconds,
}, failures);
