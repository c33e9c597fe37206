/**
 * The reference for "waiting is free": how many park-and-wake cycles raw BullMQ itself does on ONE
 * worker process. N jobs, each parked as a delayed job for POLL seconds again and again
 * (`job.moveToDelayed` + `DelayedError`, exactly how a run parks between polls) by a processor
 * that does nothing else — no run record, no tool call, no log line. Same Worker options as
 * apps/worker (lock 30 s, stalled interval 30 s). First due times are spread over one poll
 * interval, so N / POLL cycles fall due every second.
 *
 *   cycles/s   wake-ups processed per second after the first poll interval (steady state)
 *   lateness   wake-up time − due time, per cycle, steady state
 *   CPU        this process (the worker; it does nothing else meanwhile), redis-server and, with
 *              --tool=1, the gateway-sim, from /proc
 *
 * --tool=1 adds what every poll of a real run also does: one call through the production gateway
 * client (got) to the development gateway (apps/gateway-sim, zero latency; a status read,
 * `job_orchestrator_tool.get_task`), with logging off. That is the floor of one poll: park/wake
 * plus one HTTP call, with no run record, no events, no state machine.
 *
 *   pnpm exec tsx bench/delay-cycle.ts [--runs=10000] [--poll-sec=3] [--concurrency=10] [--sec=60] [--tool=0|1]
 */
import { DelayedError, Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { createGatewayClient } from '@sup/gateway-client';
import { createLogger } from '@sup/logging';
import { startApp } from '../e2e/src/procs.js';
import { RedisServer } from './lib/redis-server.js';
import { arg, load, maxOf, mb, pct, procStats, say, sleep } from './lib/util.js';

const N = arg('runs', 10_000);
const POLL_MS = arg('poll-sec', 3) * 1000;
const CONC = arg('concurrency', 10);
const SEC = arg('sec', 60);
const TOOL = arg('tool', 0) === 1;

const sim = TOOL ? startApp('gateway-sim', { SIM_PORT: '0', SIM_HOST: '127.0.0.1' }, 'sim') : undefined;
process.once('exit', () => sim?.child.kill('SIGKILL'));
const simUrl = sim ? (await sim.waitFor(/listening on (http:\S+)/))[1]! : '';
const gateway = TOOL ? createGatewayClient({ baseUrl: simUrl, apiKey: '', timeoutMs: 10_000, retries: 2, logger: createLogger({ service: 'bench', level: 'warn' }) }) : undefined;
const call = (action: string, params: Record<string, unknown>, key: string) => gateway!.execute({
  tool: 'job_orchestrator_tool', action, params, context: { run_id: key, agent_id: 'bench', node: 'poll', idempotency_key: key },
});
// every poll reads the status of one orchestrator job (a real, found job: the success path)
const jobId = TOOL ? String((await call('start_task', { task: 'release_check', service: 'bench', version: '1.0.0' }, 'start')).job_id) : '';
const pollTool = (key: string) => call('get_task', { job_id: jobId }, key);

const server = await RedisServer.start();
const connection = new Redis(server.url, { maxRetriesPerRequest: null });
const queue = new Queue('cycle', { connection });
const due = new Map<string, number>();
const lateness: number[] = [];
let cycles = 0;
let measuring = false;

const worker = new Worker('cycle', async (job, token) => {
  const now = Date.now();
  if (measuring) {
    cycles++;
    lateness.push(now - (due.get(job.id!) ?? now));
  }
  if (TOOL) await pollTool(`${job.id}:${now}`);
  const next = Date.now() + POLL_MS;
  due.set(job.id!, next);
  await job.moveToDelayed(next, token);
  throw new DelayedError();
}, { connection, concurrency: CONC, lockDuration: 30_000, stalledInterval: 30_000, maxStalledCount: 1_000, autorun: false });
worker.on('error', (err) => say(`worker error: ${err.message}`));

const loadBefore = load();
const t0 = Date.now() + 2_000;
for (let i = 0; i < N; i += 1_000) {
  const batch = Array.from({ length: Math.min(1_000, N - i) }, (_, j) => {
    const jobId = `j${i + j}`;
    const at = t0 + Math.floor(((i + j) / N) * POLL_MS);
    due.set(jobId, at);
    return { name: 'poll', data: {}, opts: { jobId, delay: at - Date.now(), removeOnComplete: true } };
  });
  await queue.addBulk(batch);
}
say(`${N} jobs added; first due in ${t0 - Date.now()} ms`);
void worker.run();

// the first poll interval fills the pipeline; measure the intervals after it
await sleep(t0 - Date.now() + POLL_MS);
const simCpu = () => (sim ? procStats(sim.child.pid!)!.cpuSec : 0);
const cpu0 = { w: procStats(process.pid)!, r: procStats(server.pid!)!, s: simCpu() };
const m0 = Date.now();
measuring = true;
await sleep(SEC * 1000);
measuring = false;
const secs = (Date.now() - m0) / 1000;
const cpu1 = { w: procStats(process.pid)!, r: procStats(server.pid!)!, s: simCpu() };
const rss = procStats(process.pid)!.rssBytes;

console.log(`raw BullMQ park/wake cycles${TOOL ? ' + one gateway call each' : ''}: ${N} jobs, every ${POLL_MS / 1000} s, 1 process × concurrency ${CONC}, ${secs.toFixed(0)} s measured; load before ${loadBefore}, after ${load()}`);
console.log(`cycles/s: ${(cycles / secs).toFixed(0)} done of ${(N / (POLL_MS / 1000)).toFixed(0)} due`);
console.log(`lateness ms: p50=${pct(lateness, 50)} p90=${pct(lateness, 90)} p99=${pct(lateness, 99)} max=${maxOf(lateness)} (n=${lateness.length})`);
console.log(`CPU (share of one core): worker ${(((cpu1.w.cpuSec - cpu0.w.cpuSec) / secs) * 100).toFixed(0)} % = ${(((cpu1.w.cpuSec - cpu0.w.cpuSec) / cycles) * 1e6).toFixed(0)} µs per cycle, redis-server ${(((cpu1.r.cpuSec - cpu0.r.cpuSec) / secs) * 100).toFixed(0)} %${TOOL ? `, gateway-sim ${(((cpu1.s - cpu0.s) / secs) * 100).toFixed(0)} %` : ''}; worker RSS ${mb(rss)}`);

connection.on('error', () => undefined); // jobs cut off by the forced close below
await worker.close(true);
await queue.close();
await connection.quit();
await server.stop();
sim?.child.kill('SIGKILL');
process.exit(0);
