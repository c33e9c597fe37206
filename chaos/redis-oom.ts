/**
 * Redis out of memory under load: a throwaway redis-server (maxmemory-policy noeviction, as the
 * system requires), 2 workers and the API on it, incident_triage runs (20 ms tool latency) and
 * release_check runs (orchestrator jobs of 2 s, polled every 0.2 s) submitted at a steady pace.
 * Mid-load `CONFIG SET maxmemory 1`: Redis refuses every write with OOM for OOM_MS (longer than the
 * 15 s a run job's five attempts last), then maxmemory is lifted. Checks:
 *   - the API answers 503 (not 500) to submissions while writes are refused, and leaves no record
 *     of a submission it did not accept;
 *   - no accepted run is lost and every one succeeds: a pass whose write Redis refused is retried
 *     later without spending one of its job's attempts;
 *   - workers do not spin: BullMQ's fetch loop retries a refused fetch at once (it logged ~2 300
 *     `worker_error` lines/s per worker), so each worker pauses fetching while refused
 *     (apps/worker/src/refusals.ts): no `worker_error` line about OOM at all;
 *   - each worker's /healthz and the API's say 503 while refused and 200 again after, and no
 *     worker exits (its watchdog took the paused fetch loop for a stuck one and exited after a minute);
 *   - work goes on after the lift (runs submitted then succeed too).
 *
 * `--fault=misconf` does the same with a disk Redis cannot persist to instead: its data dir removed
 * and a BGSAVE failed, so `stop-writes-on-bgsave-error` refuses writes with MISCONF; lifted as an
 * operator would, with `CONFIG SET stop-writes-on-bgsave-error no`.
 *
 *   pnpm exec tsx chaos/redis-oom.ts [--short] [--runs=300] [--oom-ms=40000] [--fault=oom|misconf]
 */
import { rmSync } from 'node:fs';
import { arg } from '../bench/lib/util.js';
import { chaosSystem, finish, load, paced, say, settle, SHORT, sleep, startSystem, unacceptedRecords, watchdog, httpStatus, workersWithHealth } from './lib.js';

const RUNS = arg('runs', SHORT ? 100 : 300);
const PER_SEC = 10;
const OOM_MS = arg('oom-ms', SHORT ? 18_000 : 40_000);
const FAULT = process.argv.find((a) => a.startsWith('--fault='))?.slice('--fault='.length) ?? 'oom';
if (FAULT !== 'oom' && FAULT !== 'misconf') throw new Error(`--fault must be oom or misconf, not ${FAULT}`);
/** The refusal's error code, as it shows in log lines. */
const REFUSAL = FAULT === 'oom' ? /OOM/ : /MISCONF/;
watchdog(SHORT ? 80_000 : 600_000);

const loadBefore = load();
const { server, System, admin } = await chaosSystem();
const sys = await startSystem(System, { workers: 0, simEnv: { SIM_LATENCY_MS: '20', SIM_JOB_DURATION_MS: '2000' } });
const healthUrls = await workersWithHealth(sys, 2);
const health = () => Promise.all(healthUrls.map(httpStatus));
const t0 = Date.now();
// half incident_triage (8 nodes in a row), half release_check (parks between polls)
const triage = paced(sys, 'incident_triage', (i) => ({ service: `svc${i % 50}`, incident_id: `inc_${i}` }), RUNS / 2, PER_SEC / 2);
const release = paced(sys, 'release_check', (i) => ({ service: `svc${i % 50}`, version: `1.0.${i}` }), RUNS / 2, PER_SEC / 2);

await sleep(((RUNS / PER_SEC) * 1000) / 3);
const used = /used_memory:(\d+)/.exec(await admin.info('memory'))?.[1];
const bgsave = async (want: 'ok' | 'err') => {
  await admin.bgsave();
  const deadline = Date.now() + 10_000;
  for (;;) {
    const info = await admin.info('persistence');
    if (info.includes('rdb_bgsave_in_progress:0') && info.includes(`rdb_last_bgsave_status:${want}`)) return;
    if (Date.now() > deadline) throw new Error(`BGSAVE did not end with ${want}`);
    await sleep(50);
  }
};
if (FAULT === 'oom') {
  await admin.config('SET', 'maxmemory', '1');
} else {
  // the throwaway server's own dir (no AOF, no snapshots in it); its cwd, so nothing can be written
  const [, dir] = (await admin.config('GET', 'dir')) as string[];
  rmSync(dir!, { recursive: true, force: true });
  // MISCONF needs snapshots configured (the throwaway server runs with none)
  await admin.config('SET', 'save', '3600 1');
  await bgsave('err');
}
const oomAt = Date.now();
say(`${FAULT === 'oom' ? `maxmemory 1 (Redis used ${used} B)` : 'data dir removed, BGSAVE failed (MISCONF)'} at t=${((oomAt - t0) / 1000).toFixed(1)} s for ${OOM_MS} ms`);
// what a client sees meanwhile: one submission per second; and what each worker's /healthz says
const during: Record<string, number> = {};
const probed: string[] = [];
const saw503 = healthUrls.map(() => false);
let api503 = false;
while (Date.now() - oomAt < OOM_MS) {
  (await health()).forEach((st, j) => (saw503[j] ||= st === 503));
  api503 ||= (await httpStatus(`${sys.apiUrl}/healthz`)) === 503;
  const res = await fetch(`${sys.apiUrl}/v1/graphs/incident_triage/runs`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ agent_id: 'chaos', input: { service: 'oom' } }),
  }).catch(() => undefined);
  const body = res ? ((await res.json().catch(() => ({}))) as { run_id?: string; error?: { code?: string } }) : {};
  if (res?.status === 202 && body.run_id) probed.push(body.run_id);
  const code = res ? `${res.status}${body.error ? `:${body.error.code}` : ''}` : 'no_answer';
  during[code] = (during[code] ?? 0) + 1;
  await sleep(1_000);
}
if (FAULT === 'oom') {
  await admin.config('SET', 'maxmemory', '0');
} else {
  await admin.config('SET', 'stop-writes-on-bgsave-error', 'no');
}
const lifted = Date.now();
say(`${FAULT} lifted at t=${((lifted - t0) / 1000).toFixed(1)} s; submissions while refused: ${JSON.stringify(during)}`);
let healthyAfterMs = -1;
let apiHealthyAfterMs = -1;
while ((healthyAfterMs < 0 || apiHealthyAfterMs < 0) && Date.now() - lifted < 30_000) {
  if (apiHealthyAfterMs < 0 && (await httpStatus(`${sys.apiUrl}/healthz`)) === 200) apiHealthyAfterMs = Date.now() - lifted;
  if (healthyAfterMs < 0 && (await health()).every((st) => st === 200)) healthyAfterMs = Date.now() - lifted;
  await sleep(100);
}
say(`/healthz 503 during the refusal: workers ${saw503.join(',')}, API ${api503}; 200 again after the lift: workers ${healthyAfterMs} ms, API ${apiHealthyAfterMs} ms`);

await Promise.all([triage.done, release.done]);
const after = paced(sys, 'incident_triage', (i) => ({ service: `after${i}` }), 20, 20);
await after.done;
const accepted = [...triage.accepted, ...release.accepted, ...after.accepted, ...probed];
const rejected: Record<string, number> = {};
for (const g of [triage, release, after]) for (const [k, v] of Object.entries(g.rejected)) rejected[k] = (rejected[k] ?? 0) + v;
const out = await settle(admin, sys.prefix, accepted, SHORT ? 40_000 : 180_000);
const unaccepted = await unacceptedRecords(admin, sys.prefix, accepted);
const lines = sys.workers.flatMap((w) => w.lines);
const redisRetries = lines.filter((l) => /run_redis_retry/.test(l)).length;
const attemptsSpent = lines.filter((l) => /run_graph error/.test(l) && REFUSAL.test(l)).length;
const spun = lines.filter((l) => /worker_error/.test(l) && REFUSAL.test(l)).length;
const exits = sys.workers.map((w) => w.child.exitCode ?? w.child.signalCode ?? 'running');
const afterOk = after.accepted.filter((id) => out.statuses[id] === 'succeeded').length;
const seconds = ((Date.now() - t0) / 1000).toFixed(1);
say(`rejected submissions ${JSON.stringify(rejected)}; statuses ${JSON.stringify(out.counts)}; load before ${loadBefore}, after ${load()}`);
for (const l of lines.filter((x) => /run_graph error|worker_error/.test(x)).slice(0, 3)) say(`  ${l.slice(0, 240)}`);
say(`worker log lines: ${['worker_error', 'redis_refusing', 'redis_accepting', 'worker_unhealthy', 'worker_stuck', 'run_redis_retry'].map((k) => `${k} ${lines.filter((l) => l.includes(k)).length}`).join(', ')}; workers: ${exits.join(',')}`);
await sys.stop().catch(() => undefined);
await admin.quit();
await server.stop();

const failures: string[] = [];
if (out.lost.length) failures.push(`${out.lost.length} accepted runs lost: ${out.lost.slice(0, 5).map((id) => `${id}=${out.statuses[id]}`).join(',')}`);
if ((out.counts.succeeded ?? 0) !== accepted.length) failures.push(`not every accepted run succeeded: ${JSON.stringify(out.counts)}`);
const fiveHundreds = Object.entries({ ...rejected, ...during }).filter(([k]) => k.startsWith('500')).reduce((a, [, v]) => a + v, 0);
if (fiveHundreds) failures.push(`the API answered 500 while Redis refused writes (expected 503): ${JSON.stringify({ rejected, during })}`);
if (!Object.keys(during).some((k) => k.startsWith('503'))) failures.push(`no submission was refused with 503 during the refusal: ${JSON.stringify(during)}`);
if (unaccepted.length) failures.push(`records of runs the API did not accept: ${unaccepted.slice(0, 5).join(',')}`);
if (attemptsSpent) failures.push(`${attemptsSpent} job attempts spent on ${FAULT} refusals`);
if (spun) failures.push(`${spun} worker_error lines about ${FAULT}: a worker's fetch loop spun`);
if (!saw503.every(Boolean)) failures.push(`a worker /healthz did not say 503 while Redis refused writes: ${saw503.join(',')}`);
if (healthyAfterMs < 0) failures.push('a worker /healthz was not 200 within 30 s of the lift');
if (!api503) failures.push('the API /healthz did not say 503 while Redis refused writes');
if (apiHealthyAfterMs < 0) failures.push('the API /healthz was not 200 within 30 s of the lift');
if (exits.some((e) => e !== 'running')) failures.push(`a worker exited: ${exits.join(',')}`);
if (afterOk !== after.accepted.length || after.accepted.length === 0) failures.push(`runs submitted after the lift: ${afterOk} of ${after.accepted.length} succeeded`);
finish({
  runs: accepted.length, succeeded: out.counts.succeeded ?? 0, lost: out.lost.length, duplicated_nodes: 'n/a',
  failed: out.counts.failed ?? 0, fault: FAULT, oom_ms: OOM_MS, refused_503: Object.entries({ ...rejected, ...during }).filter(([k]) => k.startsWith('503')).reduce((a, [, v]) => a + v, 0),
  answered_500: fiveHundreds, redis_retries: redisRetries, oom_worker_errors: spun, healthy_after_lift_ms: healthyAfterMs, api_503_during: String(api503), api_healthy_after_lift_ms: apiHealthyAfterMs, attempts_spent_on_oom: attemptsSpent, unaccepted_records: unaccepted.length, seconds,
}, failures);
