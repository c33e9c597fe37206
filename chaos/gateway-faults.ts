/**
 * Gateway faults, two phases on one system (3 workers, incident_triage runs):
 *   A  30 % 5xx + 10 % timeouts (the worker gives up after GATEWAY_TIMEOUT_MS=500) + 5 % 429 with
 *      Retry-After: 1 — every run must succeed through the client's retries (and node retries).
 *      `--retry-after=10` (anything above the client's 5 s in-process limit) makes each 429 end the
 *      call as gateway_throttled and park the node that long instead, slot freed.
 *   B  every call answered 401 — every run must fail fast with the error naming SUPERVISOR_API_KEY,
 *      and the gateway must see exactly one call per run (no retry storm).
 *
 *   pnpm exec tsx chaos/gateway-faults.ts [--short] [--runs=200] [--auth-runs=100] [--retry-after=1]
 */
import { arg, pct } from '../bench/lib/util.js';
import { chaosSystem, duplicates, finish, load, paced, runEvents, say, settle, SHORT, simCalls, watchdog, startSystem } from './lib.js';

const RUNS = arg('runs', SHORT ? 20 : 200);
const AUTH_RUNS = arg('auth-runs', SHORT ? 10 : 100);
const RETRY_AFTER_SEC = arg('retry-after', 1);
watchdog(SHORT ? 60_000 : 600_000);

const loadBefore = load();
const { server, System, admin } = await chaosSystem();
const sys = await startSystem(System, { workers: 3, workerEnv: { GATEWAY_TIMEOUT_MS: '500', GATEWAY_RETRIES: '3' } });
const failures: string[] = [];
const t0 = Date.now();

// ---- A: flaky gateway ----
await sys.simApi('PATCH', '/_sim/config', { fail5xxRate: 0.3, timeoutRate: 0.1, rate429: 0.05, retryAfterSec: RETRY_AFTER_SEC, hangMaxMs: 5_000 });
const a = paced(sys, 'incident_triage', (i) => ({ service: `svc${i}`, incident_id: `inc_${i}` }), RUNS, SHORT ? 20 : 20);
await a.done;
const outA = await settle(admin, sys.prefix, a.accepted, SHORT ? 40_000 : 300_000);
const callsA = await simCalls(sys);
const mineA = callsA.filter((c) => a.accepted.includes(c.run_id));
const byOutcome: Record<string, number> = {};
for (const c of mineA) byOutcome[c.outcome] = (byOutcome[c.outcome] ?? 0) + 1;
const dA = duplicates(callsA, new Set(a.accepted));
say(`A: ${JSON.stringify(outA.counts)} gateway outcomes ${JSON.stringify(byOutcome)}`);
if (outA.lost.length) failures.push(`A: ${outA.lost.length} runs lost`);
if ((outA.counts.succeeded ?? 0) !== RUNS) failures.push(`A: not every run succeeded: ${JSON.stringify(outA.counts)}`);
if (dA.repeatedEffects) failures.push(`A: ${dA.repeatedEffects} side effects executed twice`);
const faults = (byOutcome.server_error ?? 0) + (byOutcome.rate_limited ?? 0) + (byOutcome.aborted ?? 0) + (byOutcome.timeout ?? 0);
if (faults === 0) failures.push('A: no fault was injected');
// node retries that waited at least the Retry-After (a throttled call parks its node that long)
const retryDelays = (await runEvents(admin, sys.prefix, a.accepted)).flat()
  .filter((e) => e.type === 'node_retry').map((e) => Number(e.data?.delay_ms ?? 0));
const longParks = retryDelays.filter((ms) => ms >= RETRY_AFTER_SEC * 1000).length;
if (RETRY_AFTER_SEC > 5 && (byOutcome.rate_limited ?? 0) > 0 && longParks === 0) failures.push(`A: ${byOutcome.rate_limited} throttled calls, no node parked for the Retry-After`);

// ---- B: every call 401 ----
await sys.simApi('PATCH', '/_sim/config', { fail5xxRate: 0, timeoutRate: 0, rate429: 0, forceStatus: 401 });
const b = paced(sys, 'incident_triage', (i) => ({ service: `auth${i}` }), AUTH_RUNS, 20);
await b.done;
const outB = await settle(admin, sys.prefix, b.accepted, 30_000);
const callsB = (await simCalls(sys)).filter((c) => b.accepted.includes(c.run_id));
const perRun = new Map<string, number>();
for (const c of callsB) perRun.set(c.run_id, (perRun.get(c.run_id) ?? 0) + 1);
const recsB = (await admin.mget(b.accepted.map((id) => `${sys.prefix}run:${id}`))).map((r) => JSON.parse(r ?? 'null') as {
  status: string; created_at: string; finished_at: string | null; error: { code: string; message: string } | null;
} | null);
const naming = recsB.filter((r) => r?.status === 'failed' && /SUPERVISOR_API_KEY/.test(r.error?.message ?? '')).length;
const failMs = recsB.filter((r) => r?.finished_at).map((r) => Date.parse(r!.finished_at!) - Date.parse(r!.created_at));
const maxCalls = Math.max(0, ...perRun.values());
say(`B: ${JSON.stringify(outB.counts)} error: ${recsB[0]?.error?.message}; created→failed p50 ${pct(failMs, 50)} ms p99 ${pct(failMs, 99)} ms`);
if (outB.lost.length) failures.push(`B: ${outB.lost.length} runs lost`);
if (naming !== AUTH_RUNS) failures.push(`B: ${AUTH_RUNS - naming} runs did not fail with an error naming SUPERVISOR_API_KEY`);
if (maxCalls !== 1 || perRun.size !== AUTH_RUNS) failures.push(`B: gateway calls per run: max ${maxCalls}, runs that called ${perRun.size}/${AUTH_RUNS}`);

const seconds = ((Date.now() - t0) / 1000).toFixed(1);
say(`load before ${loadBefore}, after ${load()}`);
await sys.stop().catch(() => undefined);
await admin.quit();
await server.stop();
finish({
  runs: RUNS, succeeded: outA.counts.succeeded ?? 0, lost: outA.lost.length + outB.lost.length, duplicated_nodes: dA.duplicatedNodes.length,
  gateway_calls: mineA.length, injected_5xx: byOutcome.server_error ?? 0, injected_429: byOutcome.rate_limited ?? 0, retry_after_sec: RETRY_AFTER_SEC, node_retries: retryDelays.length, parks_for_retry_after: RETRY_AFTER_SEC > 5 ? longParks : 'n/a',
  injected_timeouts: (byOutcome.aborted ?? 0) + (byOutcome.timeout ?? 0),
  auth_runs: AUTH_RUNS, auth_failed_fast: naming, auth_calls_per_run_max: maxCalls, auth_fail_p99_ms: pct(failMs, 99), seconds,
}, failures);
