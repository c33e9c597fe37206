/**
 * Redis restart under load: a throwaway redis-server with AOF (appendfsync everysec), 2 workers and
 * the API on it, incident_triage runs (20 ms tool latency) submitted at a steady pace. Mid-load the
 * redis-server is killed (SIGKILL: a crash; the full run also does a clean SIGTERM restart later),
 * stays down DOWN_MS, and is started again on the same port and AOF. Checks:
 *   - no accepted run (answered 202) is lost, and every one of them succeeds;
 *   - the API and the workers reconnect by themselves: /healthz of each answers 200 again, and each
 *     worker steps nodes again after the restart (a worker that does not is "stuck");
 *   - while Redis is down a worker's /healthz says so (503).
 * Then Redis is frozen (SIGSTOP, FREEZE_MS, SIGCONT): connections stay open and `ready` but nothing
 * answers, which no reconnect notices (the case of a half-open TCP connection). The worker's
 * watchdog (apps/worker/src/watchdog.ts) must make /healthz say 503 while it lasts, and 200 after.
 *
 *   pnpm exec tsx chaos/redis-restart.ts [--short] [--runs=600] [--down-ms=2000]
 */
import { arg } from '../bench/lib/util.js';
import { chaosSystem, finish, load, maxTakeovers, paced, runEvents, say, settle, SHORT, sleep, unacceptedRecords, watchdog, startSystem, httpStatus, workersWithHealth } from './lib.js';

const RUNS = arg('runs', SHORT ? 120 : 600);
const PER_SEC = SHORT ? 15 : 20;
const DOWN_MS = arg('down-ms', SHORT ? 1_500 : 2_000);
const FREEZE_MS = arg('freeze-ms', SHORT ? 4_000 : 8_000);
watchdog(SHORT ? 75_000 : 600_000);

const loadBefore = load();
const { server, System, admin } = await chaosSystem({ aof: true });
const sys = await startSystem(System, { workers: 0, simEnv: { SIM_LATENCY_MS: '20' } });
sys.redis.on('error', () => undefined); // the harness' own connection: its reconnect noise is not news
const healthUrls = await workersWithHealth(sys, 2);

const t0 = Date.now();
const gen = paced(sys, 'incident_triage', (i) => ({ service: `svc${i % 50}`, incident_id: `inc_${i}` }), RUNS, PER_SEC);
const loadMs = (RUNS / PER_SEC) * 1000;
const restarts: Array<{ signal: NodeJS.Signals; atLine: number[]; workerSaw503: boolean[]; apiBackMs: number; workersBackMs: number }> = [];
const plan: NodeJS.Signals[] = SHORT ? ['SIGKILL'] : ['SIGKILL', 'SIGTERM'];
for (const [i, signal] of plan.entries()) {
  const at = t0 + ((i + 1) * loadMs) / (plan.length + 2);
  if (at > Date.now()) await sleep(at - Date.now());
  const atLine = sys.workers.map((w) => w.lines.length);
  await server.kill(signal);
  const down = Date.now();
  say(`redis-server ${signal} at t=${((down - t0) / 1000).toFixed(1)} s`);
  const workerSaw503 = healthUrls.map(() => false);
  while (Date.now() - down < DOWN_MS) {
    const s = await Promise.all(healthUrls.map(httpStatus));
    s.forEach((x, j) => (workerSaw503[j] ||= x === 503));
    await sleep(200);
  }
  await server.launch();
  const up = Date.now();
  let apiBackMs = -1;
  let workersBackMs = -1;
  while (Date.now() - up < 30_000 && (apiBackMs < 0 || workersBackMs < 0)) {
    if (apiBackMs < 0 && (await httpStatus(`${sys.apiUrl}/healthz`)) === 200) apiBackMs = Date.now() - up;
    if (workersBackMs < 0 && (await Promise.all(healthUrls.map(httpStatus))).every((x) => x === 200)) workersBackMs = Date.now() - up;
    await sleep(100);
  }
  say(`redis-server back after ${up - down} ms; API healthy after ${apiBackMs} ms, workers after ${workersBackMs} ms`);
  restarts.push({ signal, atLine, workerSaw503, apiBackMs, workersBackMs });
}
// ---- freeze: ready-but-silent connections, still under load ----
const freezeAt = t0 + ((plan.length + 1) * loadMs) / (plan.length + 2);
if (freezeAt > Date.now()) await sleep(freezeAt - Date.now());
const atFreeze = Date.now();
process.kill(server.pid!, 'SIGSTOP');
say(`redis-server SIGSTOP at t=${((atFreeze - t0) / 1000).toFixed(1)} s for ${FREEZE_MS} ms`);
const frozen503Ms: number[] = healthUrls.map(() => -1);
let apiFrozen503 = false;
let frozenReason = '';
while (Date.now() - atFreeze < FREEZE_MS) {
  await Promise.all(healthUrls.map(async (u, j) => {
    const res = await fetch(u, { signal: AbortSignal.timeout(1_500) }).catch(() => undefined);
    if (res?.status === 503 && frozen503Ms[j]! < 0) {
      frozen503Ms[j] = Date.now() - atFreeze;
      frozenReason = ((await res.json()) as { reason?: string }).reason ?? '';
    }
  }));
  apiFrozen503 ||= (await httpStatus(`${sys.apiUrl}/healthz`)) === 503;
  await sleep(200);
}
process.kill(server.pid!, 'SIGCONT');
const thawed = Date.now();
let workersThawedMs = -1;
while (Date.now() - thawed < 30_000 && workersThawedMs < 0) {
  if ((await Promise.all(healthUrls.map(httpStatus))).every((x) => x === 200)) workersThawedMs = Date.now() - thawed;
  else await sleep(100);
}
say(`freeze: workers said 503 after ${frozen503Ms.join('/')} ms ("${frozenReason}"), API 503: ${apiFrozen503}; healthy again ${workersThawedMs} ms after SIGCONT`);
const atThaw = sys.workers.map((w) => w.lines.length);

await gen.done;
// work after the thaw, so a worker whose blocking connection stayed stuck would show
const after = paced(sys, 'incident_triage', (i) => ({ service: `after${i}` }), 30, 30);
await after.done;
gen.accepted.push(...after.accepted);
for (const [k, v] of Object.entries(after.rejected)) gen.rejected[`after_${k}`] = v;
const out = await settle(admin, sys.prefix, gen.accepted, SHORT ? 40_000 : 180_000);
const takeovers = maxTakeovers(await runEvents(admin, sys.prefix, gen.accepted));
// a worker that called no tool and finished no run after the last restart, while there was work, is stuck
const stepsAfter = sys.workers.map((w, j) => w.lines.slice(atThaw[j] ?? 0).filter((l) => /gateway_call|run_finished/.test(l)).length);
const errors = [
  ...sys.apis.flatMap((a) => a.lines.filter((l) => /request_error/.test(l))).slice(0, 3),
  ...sys.workers.flatMap((w) => w.lines.filter((l) => /worker_error|run_graph error/.test(l))).slice(0, 3),
];
// runs the API did not accept (create.lua ran, then the enqueue and its rollback failed): reported
const orphans = await unacceptedRecords(admin, sys.prefix, gen.accepted);
if (orphans.length) say(`records of runs the API did not accept: ${orphans.join(',')}`);
const seconds = ((Date.now() - t0) / 1000).toFixed(1);
say(`steps per worker after the freeze: ${stepsAfter.join(',')}; rejected submissions ${JSON.stringify(gen.rejected)}; statuses ${JSON.stringify(out.counts)}`);
for (const e of errors) say(`  ${e}`);
say(`load before ${loadBefore}, after ${load()}`);
await sys.stop().catch(() => undefined);
await admin.quit();
await server.stop();

const failures: string[] = [];
if (out.lost.length) failures.push(`${out.lost.length} accepted runs lost: ${out.lost.slice(0, 5).map((id) => `${id}=${out.statuses[id]}`).join(',')}`);
if ((out.counts.succeeded ?? 0) !== gen.accepted.length) failures.push(`not every accepted run succeeded: ${JSON.stringify(out.counts)}`);
for (const r of restarts) {
  if (r.apiBackMs < 0) failures.push(`API /healthz not 200 within 30 s after the ${r.signal} restart`);
  if (r.workersBackMs < 0) failures.push(`a worker /healthz not 200 within 30 s after the ${r.signal} restart`);
  if (!r.workerSaw503.every(Boolean)) failures.push(`a worker /healthz did not report Redis down during the ${r.signal} restart`);
}
if (frozen503Ms.some((x) => x < 0)) failures.push('a worker /healthz stayed 200 while Redis was frozen');
if (workersThawedMs < 0) failures.push('a worker /healthz stayed unhealthy after Redis was thawed');
if (gen.rejected['500'] || gen.rejected.after_500) failures.push(`the API answered 500 while Redis was down (expected 503): ${JSON.stringify(gen.rejected)}`);
const stuck = stepsAfter.filter((n) => n === 0).length;
if (stuck) failures.push(`${stuck} workers took no step after the restart (stuck)`);
finish({
  runs: gen.accepted.length, succeeded: out.counts.succeeded ?? 0, lost: out.lost.length, duplicated_nodes: 'n/a',
  failed: out.counts.failed ?? 0, max_takeovers: takeovers, rejected_while_down: Object.values(gen.rejected).reduce((a, b) => a + b, 0), restarts: restarts.length,
  api_back_ms: restarts.map((r) => r.apiBackMs).join('/'), workers_back_ms: restarts.map((r) => r.workersBackMs).join('/'),
  frozen_503_after_ms: frozen503Ms.join('/'), thawed_healthy_ms: workersThawedMs, stuck_workers: stuck, unaccepted_records: orphans.length, seconds,
}, failures);
