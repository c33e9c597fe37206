/**
 * API: POST /v1/graphs/release_check/runs at fixed rates (autocannon, coordinated-omission
 * corrected), reference in the same run: GET /healthz of the same API process (one Redis round
 * trip: a SET of the write-probe key; a PING before 2026-11-29).
 * Real processes (gateway-sim, one API, no worker: submitted runs stay queued) on a throwaway
 * redis-server. autocannon runs in this process, on the same 2 cores.
 *
 * Rate 0 = as fast as the connections go (the saturation point).
 *
 *   pnpm exec tsx bench/api.ts [--duration=10] [--rates=100,500,1000,0] [--connections=20]
 */
import autocannon from 'autocannon';
import { RedisServer } from './lib/redis-server.js';
import { arg, load, procStats, say, sleep, systemOn, startSystem } from './lib/util.js';

const DURATION = arg('duration', 10);
const CONNECTIONS = arg('connections', 20);
const RATES = (process.argv.find((a) => a.startsWith('--rates='))?.slice(8) ?? '100,500,1000,0').split(',').map(Number);

const server = await RedisServer.start();
const System = await systemOn(server.url);
const loadBefore = load();
const sys = await startSystem(System, { workers: 0 });
const apiPid = sys.apis[0]!.child.pid!;

interface Row { target: string; rate: number; rps: number; p50: number; p99: number; max: number; ok: number; non2xx: number; errors: number; cpu: number }
const rows: Row[] = [];
async function hit(target: 'healthz' | 'POST /runs', rate: number): Promise<void> {
  const post = target === 'POST /runs';
  const before = procStats(apiPid)!;
  const t0 = Date.now();
  const r = await autocannon({
    url: `${sys.apiUrl}${post ? '/v1/graphs/release_check/runs' : '/healthz'}`,
    method: post ? 'POST' : 'GET',
    ...(post ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ agent_id: 'bench', input: { service: 'billing', version: '1.4.2' } }) } : {}),
    connections: CONNECTIONS,
    ...(rate > 0 ? { overallRate: rate } : {}),
    duration: DURATION,
  });
  const after = procStats(apiPid)!;
  const ok = r['2xx'];
  rows.push({
    target, rate, rps: r.requests.total / ((Date.now() - t0) / 1000), p50: r.latency.p50, p99: r.latency.p99, max: r.latency.max,
    ok, non2xx: r.non2xx, errors: r.errors + r.timeouts, cpu: (after.cpuSec - before.cpuSec) / ((Date.now() - t0) / 1000),
  });
  say(`${target} @${rate}/s: ${JSON.stringify(rows.at(-1))}`);
}

try {
  // warm-up: JIT, connection pools, Lua script cache
  await autocannon({ url: `${sys.apiUrl}/v1/graphs/release_check/runs`, method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ agent_id: 'bench', input: { service: 'w', version: '1' } }), connections: 10, amount: 500 });
  await autocannon({ url: `${sys.apiUrl}/healthz`, connections: 10, amount: 500 });
  for (const rate of RATES) {
    await hit('healthz', rate);
    await sleep(500);
    await hit('POST /runs', rate);
    await sleep(500);
  }
  console.log(`api: ${DURATION} s per cell, ${CONNECTIONS} connections, autocannon overallRate; load before ${loadBefore}, after ${load()}`);
  console.log('| target | offered req/s | achieved req/s | p50 ms | p99 ms | max ms | 2xx | non-2xx | errors | API CPU |');
  for (const r of rows) {
    console.log(`| ${r.target} | ${r.rate || 'max'} | ${r.rps.toFixed(0)} | ${r.p50} | ${r.p99} | ${r.max} | ${r.ok} | ${r.non2xx} | ${r.errors} | ${(r.cpu * 100).toFixed(0)} % |`);
  }
} finally {
  await sys.stop().catch(() => undefined);
  await server.stop();
}
process.exit(0);
