/**
 * Throughput: completed runs/s of the 8-node no-op graph (makeNoopGraph) through the production
 * processor, with 1 and 2 worker processes (bench/noop-worker.ts) × concurrency 1/10/50, on a
 * throwaway redis-server. Reference in the same run — the floor: a raw ioredis client doing only
 * the minimal durable work of a step as one pipeline (GET cancel flag, SET snapshot EX ttl, XADD
 * event, EXPIRE events) for the same number of runs × 8 steps, at the same concurrencies, with a
 * snapshot as large as a real noop8 run record.
 *
 * Each engine cell: fresh key prefix, workers started and ready, queue paused, N runs submitted as
 * the API does (create.lua + queue.add), queue resumed; rate = N / (last finished_at − resume).
 *
 * A second reference, `raw1x50`: the same BullMQ Worker and submission with a processor that
 * returns at once — what one job per run costs before the engine does anything.
 *
 * `--rounds=K` repeats everything K times, engine cells and floor interleaved, and reports medians
 * and the best-engine ÷ best-floor ratio of each round: on a shared machine single runs swing ±30 %.
 *
 * `CHILD_PROF=1` writes a V8 CPU profile of every worker process to /tmp/childprof.
 *
 *   pnpm exec tsx bench/throughput.ts [runs-per-cell=1000] [--cells=1x1,1x10,...,raw1x50] [--rounds=1]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { compileGraph, step } from '@sup/engine';
import { createRunQueue } from '@sup/queue';
import { createRedis, RunStore } from '@sup/run-store';
import { RedisServer } from './lib/redis-server.js';
import { NOOP_GRAPHS, submitNoop } from './lib/noop.js';
import { procStats } from './lib/util.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const N = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? 1000);
const STEPS = 8;
const cellsArg = process.argv.find((a) => a.startsWith('--cells='))?.slice(8);
// `raw1x50` = the reference BullMQ cell: same Worker and submission, a processor that returns at once
const CELLS: Array<[number, number, boolean]> = (cellsArg ?? '1x1,1x10,1x50,2x1,2x10,2x50,raw1x50')
  .split(',')
  .map((c) => {
    const [p, n] = c.replace(/^raw/, '').split('x').map(Number);
    return [p!, n!, c.startsWith('raw')];
  });
const ROUNDS = Number(process.argv.find((a) => a.startsWith('--rounds='))?.slice(9) ?? 1);
const CONCURRENCIES = [...new Set(CELLS.filter(([, , raw]) => !raw).map(([, c]) => c))].sort((a, b) => a - b);
const say = (m: string) => process.stderr.write(`${m}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const load = () => loadavg().map((x) => x.toFixed(2)).join(' ');

const server = await RedisServer.start();
const admin = new Redis(server.url);
const loadBefore = load();

const children = new Set<ChildProcess>();
process.once('exit', () => children.forEach((c) => c.kill('SIGKILL')));

function startWorker(prefix: string, concurrency: number, raw: boolean): Promise<ChildProcess> {
  const child = spawn(process.execPath, [...(process.env.CHILD_PROF === '1' ? ['--cpu-prof', '--cpu-prof-dir=/tmp/childprof'] : []), '--import', 'tsx', `${ROOT}bench/noop-worker.ts`], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', REDIS_URL: server.url, KEY_PREFIX: prefix, WORKER_CONCURRENCY: String(concurrency), LOG_LEVEL: process.env.LOG_LEVEL ?? 'info', RAW_BULLMQ: raw ? '1' : '0' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return new Promise((resolve, reject) => {
    let buf = '';
    const onData = (d: Buffer) => {
      buf += d.toString();
      if (buf.includes('worker_ready')) {
        // from here on its stdout (one log line per node) is drained and dropped
        child.stdout!.off('data', onData);
        child.stdout!.resume();
        resolve(child);
      }
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`noop-worker exited ${code} before worker_ready`)));
  });
}

async function stopWorker(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null) return;
  const exited = new Promise((r) => c.once('exit', r));
  c.kill('SIGTERM');
  const t = setTimeout(() => c.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(t);
}

/** CPU per run in µs over the timed part: the worker processes together, and redis-server. */
interface Cpu { workers: number; redis: number }
interface Cell { procs: number; concurrency: number; raw: boolean; runsPerSec: number; succeeded: number; cpu: Cpu }

/** CPU seconds of the given processes so far, for a per-run delta. */
const cpuOf = (pids: number[]) => pids.reduce((a, pid) => a + (procStats(pid)?.cpuSec ?? 0), 0);
function cpuMeter(workerPids: number[]) {
  const w0 = cpuOf(workerPids);
  const r0 = cpuOf([server.pid!]);
  return (runs: number): Cpu => ({ workers: ((cpuOf(workerPids) - w0) / runs) * 1e6, redis: ((cpuOf([server.pid!]) - r0) / runs) * 1e6 });
}
let recordBytes = 0;
let eventBytes = 0;

/** One engine (or raw BullMQ) cell: fresh prefix, workers up, N runs submitted while paused, resume, time. */
async function runCell(procs: number, concurrency: number, raw: boolean, round: number): Promise<Cell> {
  const prefix = `tp${round}${raw ? 'raw' : ''}${procs}x${concurrency}:`;
  const redis = createRedis(server.url, { name: 'bench-submit' });
  const bull = createRedis(server.url, { name: 'bench-bull', forBullmq: true });
  const store = new RunStore({ redis, prefix, ttlSec: 86_400 });
  const queue = createRunQueue(bull, prefix);
  const workers = await Promise.all(Array.from({ length: procs }, () => startWorker(prefix, concurrency, raw)));
  try {
    await queue.pause();
    const ids = await submitNoop({ store, queue }, 'noop8', N, 50);
    await sleep(200);
    const meter = cpuMeter(workers.map((w) => w.pid!));
    const t0 = Date.now();
    await queue.resume();
    const deadline = t0 + 600_000;
    if (raw) {
      // the reference: BullMQ alone; rate from the jobs' own finishedOn
      while (Date.now() < deadline && (await queue.getJobCountByTypes('completed')) < N) await sleep(20);
      const cpu = meter(N);
      const jobs = await queue.getJobs(['completed'], 0, -1);
      const seconds = (Math.max(...jobs.map((j) => j.finishedOn ?? 0)) - t0) / 1000;
      return { procs, concurrency, raw, runsPerSec: jobs.length / seconds, succeeded: jobs.length, cpu };
    }
    const finished = async () => Number((await redis.hget(store.keys.stats, 'finished|noop8|succeeded')) ?? 0) + Number((await redis.hget(store.keys.stats, 'finished|noop8|failed')) ?? 0);
    while (Date.now() < deadline && (await finished()) < N) await sleep(20);
    const cpu = meter(N);
    const recs = (await redis.mget(ids.map((id) => store.keys.run(id)))).map((r) => JSON.parse(r!) as { status: string; finished_at: string | null });
    const lastMs = Math.max(...recs.map((r) => (r.finished_at ? Date.parse(r.finished_at) : 0)));
    const succeeded = recs.filter((r) => r.status === 'succeeded').length;
    if (!recordBytes) {
      recordBytes = (await redis.strlen(store.keys.run(ids[0]!))) as number;
      const ev = await redis.xrange(store.keys.events(ids[0]!), '-', '+');
      eventBytes = Math.round(ev.reduce((a, [, f]) => a + f[1]!.length, 0) / ev.length);
    }
    return { procs, concurrency, raw, runsPerSec: succeeded / ((lastMs - t0) / 1000), succeeded, cpu };
  } finally {
    await Promise.all(workers.map(stopWorker));
    await queue.close();
    await Promise.allSettled([redis.quit(), bull.quit()]);
    await admin.flushall();
  }
}

/** The floor: one ioredis client, the minimal durable step work as one pipeline, N runs × 8 steps. */
async function runFloor(client: Redis, concurrency: number, round: number): Promise<{ rate: number; cpu: Cpu }> {
  const snapshot = JSON.stringify({ pad: 'x'.repeat(Math.max(0, recordBytes - 12)) });
  const ev = JSON.stringify({ pad: 'y'.repeat(Math.max(0, eventBytes - 12)) });
  let next = 0;
  const meter = cpuMeter([process.pid]);
  const t0 = Date.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < N) {
      const id = `floor${round}x${concurrency}:${next++}`;
      for (let s = 0; s < STEPS; s++) {
        const res = await client.pipeline()
          .get(`${id}:cancel`)
          .set(id, snapshot, 'EX', 86_400)
          .xadd(`${id}:events`, 'MAXLEN', '~', 10_000, '*', 'e', ev)
          .expire(`${id}:events`, 86_400)
          .exec();
        if (res?.some(([err]) => err)) throw new Error('floor pipeline failed');
      }
    }
  }));
  const rate = N / ((Date.now() - t0) / 1000);
  const cpu = meter(N);
  await admin.flushall();
  return { rate, cpu };
}

// rounds interleave engine cells and floor, so a neighbour's burst hits both sides of the ratio
const cells: Cell[][] = [];
const floors: Array<Map<number, number>> = [];
const floorCpu: Array<Map<number, Cpu>> = [];
const cpuText = (c: Cpu, who = 'workers') => `${who} ${c.workers.toFixed(0)} µs + redis ${c.redis.toFixed(0)} µs CPU per run`;
const floorClient = new Redis(server.url);
for (let round = 0; round < ROUNDS; round++) {
  const rc: Cell[] = [];
  for (const [procs, concurrency, raw] of CELLS) {
    const c = await runCell(procs, concurrency, raw, round);
    rc.push(c);
    say(`round ${round + 1}: ${raw ? 'raw BullMQ' : 'engine'} ${procs}x${concurrency}: ${c.succeeded}/${N} in ${(N / c.runsPerSec).toFixed(2)} s = ${c.runsPerSec.toFixed(1)} /s; ${cpuText(c.cpu)}`);
  }
  const rf = new Map<number, number>();
  const rfc = new Map<number, Cpu>();
  for (const concurrency of CONCURRENCIES) {
    const f = await runFloor(floorClient, concurrency, round);
    rf.set(concurrency, f.rate);
    rfc.set(concurrency, f.cpu);
    say(`round ${round + 1}: floor c=${concurrency}: ${f.rate.toFixed(1)} runs/s; ${cpuText(f.cpu, 'client')}`);
  }
  cells.push(rc);
  floors.push(rf);
  floorCpu.push(rfc);
}

// ---- decomposition: engine.step alone, in this process, no Redis (restore → run node → persist) ----
const g = compileGraph(NOOP_GRAPHS.noop8);
const stepDeps = { runId: 'r', agentId: 'a', callTool: async () => ({}), runs: {} as never, signal: new AbortController().signal, now: Date.now, settings: { jobPollIntervalMs: 3_000 } };
let cpuRunsPerSec = 0;
for (let round = 0; round < 2; round++) {
  const t0 = performance.now();
  for (let r = 0; r < N; r++) {
    let snap: unknown = null;
    for (;;) {
      const o = await step(g, snap, {}, stepDeps);
      snap = JSON.parse(JSON.stringify(o.snapshot));
      if (o.kind !== 'advanced') break;
    }
  }
  cpuRunsPerSec = (N * 1000) / (performance.now() - t0); // the second round (warm JIT) counts
}

const median = (xs: number[]) => { const a = [...xs].sort((x, y) => x - y); const m = a.length >> 1; return a.length % 2 ? a[m]! : (a[m - 1]! + a[m]!) / 2; };
const fmt = (xs: number[]) => (xs.length > 1 ? `${median(xs).toFixed(1)} (${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)})` : xs[0]!.toFixed(1));
const bestFloorOf = (r: number) => Math.max(...floors[r]!.values());
const bestEngineOf = (r: number) => cells[r]!.filter((c) => !c.raw).reduce((a, b) => (b.runsPerSec > a.runsPerSec ? b : a), { runsPerSec: 0, procs: 0, concurrency: 0 } as Cell);
const ratios = cells.map((_, r) => (100 * bestEngineOf(r).runsPerSec) / bestFloorOf(r));
console.log(`throughput: ${N} noop8 runs per cell (${STEPS} steps each), ${ROUNDS} round(s), record ${recordBytes} B, event ${eventBytes} B; load before ${loadBefore}, after ${load()}`);
// CPU per run, medians over the rounds: worker processes (the floor: its one client) + redis-server
const cpuCell = (cs: Cpu[]) => `${median(cs.map((c) => c.workers)).toFixed(0)} + ${median(cs.map((c) => c.redis)).toFixed(0)}`;
console.log(`| cell | runs/s${ROUNDS > 1 ? ' median (min–max)' : ''} | node steps/s | CPU µs per run: workers (floor: client) + redis | all succeeded |`);
CELLS.forEach(([procs, concurrency, raw], i) => {
  const rates = cells.map((rc) => rc[i]!.runsPerSec);
  const ok = cells.every((rc) => rc[i]!.succeeded === N);
  console.log(`| ${raw ? 'raw BullMQ (no-op processor, jobs/s) ' : ''}${procs} × ${concurrency} | ${fmt(rates)} | ${raw ? '' : (median(rates) * STEPS).toFixed(0)} | ${cpuCell(cells.map((rc) => rc[i]!.cpu))} | ${ok ? 'yes' : 'NO'} |`);
});
for (const c of CONCURRENCIES) {
  const rates = floors.map((f) => f.get(c)!);
  console.log(`| floor (raw pipeline) × ${c} | ${fmt(rates)} | ${(median(rates) * STEPS).toFixed(0)} | ${cpuCell(floorCpu.map((f) => f.get(c)!))} | |`);
}
console.log(`engine.step alone (one process, no Redis, no BullMQ): ${cpuRunsPerSec.toFixed(1)} runs/s = ${(cpuRunsPerSec * STEPS).toFixed(0)} steps/s`);
cells.forEach((_, r) => {
  const e = bestEngineOf(r);
  console.log(`round ${r + 1}: best engine ${e.procs}×${e.concurrency} ${e.runsPerSec.toFixed(1)} runs/s ÷ best floor ${bestFloorOf(r).toFixed(1)} runs/s = ${ratios[r]!.toFixed(0)} %`);
});
console.log(`best engine ÷ best floor, same round: ${ROUNDS > 1 ? `median ${median(ratios).toFixed(0)} %, range ${Math.min(...ratios).toFixed(0)}–${Math.max(...ratios).toFixed(0)} %` : `${ratios[0]!.toFixed(0)} %`}`);
await floorClient.quit();
await admin.quit();
await server.stop();
process.exit(0);
