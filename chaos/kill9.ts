/**
 * kill -9 loop: 3 workers, incident_triage runs with 50 ms tool latency submitted at a steady pace,
 * and every 2 s a random worker is killed with SIGKILL and a new one started. Every run must
 * succeed; nodes executed twice may only be the ones in flight at a kill, and the gateway must have
 * deduplicated them by idempotency key (a side effect never executed twice).
 *
 *   pnpm exec tsx chaos/kill9.ts [--short] [--runs=500]
 */
import { arg } from '../bench/lib/util.js';
import { chaosSystem, duplicates, finish, load, maxTakeovers, paced, runEvents, say, settle, SHORT, simCalls, sleep, watchdog, startSystem } from './lib.js';

const RUNS = arg('runs', SHORT ? 60 : 500);
const PER_SEC = SHORT ? 12 : 20;
const KILL_EVERY_MS = SHORT ? 1_000 : 2_000;
watchdog(SHORT ? 60_000 : 600_000);

const loadBefore = load();
const { server, System, admin } = await chaosSystem();
const sys = await startSystem(System, { workers: 3, simEnv: { SIM_LATENCY_MS: '50' } });
const t0 = Date.now();
const gen = paced(sys, 'incident_triage', (i) => ({ service: `svc${i % 50}`, incident_id: `inc_${i}` }), RUNS, PER_SEC);

// kill while the load lasts, and a little after, so runs in flight at the end are hit too
let kills = 0;
let loadDone = false;
void gen.done.then(() => (loadDone = true));
const tailUntil = () => (loadDone ? Date.now() + KILL_EVERY_MS * 2 : Infinity);
let stopKillingAt = Infinity;
while (Date.now() < stopKillingAt) {
  await sleep(KILL_EVERY_MS);
  if (loadDone && stopKillingAt === Infinity) stopKillingAt = tailUntil();
  const alive = sys.workers.filter((w) => w.child.exitCode === null && w.child.signalCode === null);
  const victim = alive[Math.floor(Math.random() * alive.length)];
  if (!victim) continue;
  victim.child.kill('SIGKILL');
  await victim.exited;
  kills++;
  await sys.startWorker();
}
await gen.done;
const out = await settle(admin, sys.prefix, gen.accepted, SHORT ? 30_000 : 180_000);
const ids = new Set(gen.accepted);
const d = duplicates(await simCalls(sys), ids);
const takeovers = maxTakeovers(await runEvents(admin, sys.prefix, gen.accepted));
const seconds = ((Date.now() - t0) / 1000).toFixed(1);
say(`dedup keys (${d.dedupKeys.length}): ${d.dedupKeys.slice(0, 20).join(', ')}${d.dedupKeys.length > 20 ? ' …' : ''}`);
say(`load before ${loadBefore}, after ${load()}`);
await sys.stop().catch(() => undefined);
await admin.quit();
await server.stop();

const failures: string[] = [];
if (out.lost.length) failures.push(`${out.lost.length} runs lost: ${out.lost.slice(0, 5).join(',')}`);
if ((out.counts.succeeded ?? 0) !== gen.accepted.length) failures.push(`not every run succeeded: ${JSON.stringify(out.counts)}`);
if (gen.accepted.length !== RUNS) failures.push(`API refused submissions: ${JSON.stringify(gen.rejected)}`);
if (d.repeatedEffects) failures.push(`${d.repeatedEffects} side effects executed twice under one key`);
if (d.revisited) failures.push(`${d.revisited} finished nodes ran again with new keys`);
if (kills === 0) failures.push('no worker was killed');
finish({
  runs: gen.accepted.length, succeeded: out.counts.succeeded ?? 0, lost: out.lost.length, duplicated_nodes: d.duplicatedNodes.length,
  dedup_keys: d.dedupKeys.length, failed: out.counts.failed ?? 0, kills, max_takeovers: takeovers, gateway_calls: d.calls, aborted_calls: d.aborted,
  repeated_side_effects: d.repeatedEffects, revisited_nodes: d.revisited, seconds,
}, failures);
