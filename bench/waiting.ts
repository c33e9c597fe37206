/**
 * Waiting is free: N release_check runs whose orchestrator jobs take JOB seconds, polled every
 * POLL seconds, on ONE worker process (apps/worker) with concurrency 10, real processes
 * (gateway-sim at zero latency, API, worker) on a throwaway redis-server.
 *
 *   poll lateness  per poll: its get_task call at the gateway − (the run's previous get_task call +
 *                  the delay that poll parked the run for, jittered() as release_check computes it) —
 *                  how late BullMQ handed the parked run back and a worker slot polled again. Read
 *                  from the gateway's call log (a repeated park appends no event to the run); it also
 *                  counts the previous poll's commit and park and this poll's claim (a few ms)
 *   worker         CPU (share of one core) and RSS every 10 s, from /proc
 *   redis          used_memory per waiting run (all N parked) over the empty baseline
 *
 *   reference      first, in the same run: bench/delay-cycle.ts --tool=1 on the same N, poll interval
 *                  and concurrency — the floor of a poll (raw BullMQ park/wake + one gateway call,
 *                  nothing else); the summary divides our CPU per poll by the floor's
 *
 *   pnpm exec tsx bench/waiting.ts [--runs=1000] [--job-sec=300] [--poll-sec=3] [--concurrency=10] [--reference=1|0]
 *
 * WORKER_NODE_OPTIONS is handed to the worker as NODE_OPTIONS, e.g. `--cpu-prof --cpu-prof-dir=/tmp/p`
 * for a V8 profile of the worker (written when it exits).
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { jittered } from '@sup/graphs';
import { RedisServer } from './lib/redis-server.js';
import { arg, infoNumber, load, maxOf, mb, pct, procStats, say, sleep, systemOn, startSystem } from './lib/util.js';

const N = arg('runs', 1000);
const JOB_SEC = arg('job-sec', 300);
const POLL_SEC = arg('poll-sec', 3);
const CONC = arg('concurrency', 10);

// the reference runs alone, before this script starts anything, on its own redis-server
const reference = arg('reference', 1) === 1
  ? await new Promise<string>((resolve, reject) => {
    say(`reference: bench/delay-cycle.ts --tool=1 for ${Math.min(60, JOB_SEC)} s`);
    execFile(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./delay-cycle.ts', import.meta.url)),
      `--runs=${N}`, `--poll-sec=${POLL_SEC}`, `--concurrency=${CONC}`, '--tool=1', `--sec=${Math.min(60, JOB_SEC)}`],
    { maxBuffer: 1 << 20 }, (err, stdout) => (err ? reject(err) : resolve(stdout.trim())));
  })
  : '';
const floorUsPerPoll = Number(reference.match(/= (\d+) µs per cycle/)?.[1] ?? NaN);

const server = await RedisServer.start();
const System = await systemOn(server.url);
const admin = new Redis(server.url);
const usedMemory = async () => infoNumber(await admin.info('memory'), 'used_memory');
const loadBefore = load();

const sys = await startSystem(System, {
  workers: 1,
  workerEnv: { WORKER_CONCURRENCY: String(CONC), JOB_POLL_INTERVAL_SEC: String(POLL_SEC), WORKER_LOCK_MS: '30000',
    ...(process.env.WORKER_NODE_OPTIONS ? { NODE_OPTIONS: process.env.WORKER_NODE_OPTIONS } : {}) },
  simEnv: { SIM_JOB_DURATION_MS: String(JOB_SEC * 1000) },
});
const wpid = sys.workers[0]!.child.pid!;
try {
  await sleep(1_000);
  const baseline = await usedMemory();
  const cpuAtStart = procStats(wpid)!.cpuSec;
  const t0 = Date.now();
  const ids: string[] = [];
  let next = 0;
  await Promise.all(Array.from({ length: 20 }, async () => {
    while (next < N) {
      const i = next++;
      ids.push(await sys.submit('release_check', { service: `svc${i}`, version: '1.0.0' }));
    }
  }));
  say(`submitted ${N} runs in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

  // every get_task call's arrival at the gateway, per run, read as the run goes (the sim keeps the
  // last 200 000 calls; 10 s of the heaviest load here is ~33 000)
  const pollTimes = new Map<string, number[]>();
  let lastSeq = 0;
  const collectPolls = async () => {
    const res = await fetch(`${sys.simUrl}/_sim/calls?action=get_task&since_seq=${lastSeq}`);
    const { calls } = (await res.json()) as { calls: Array<{ seq: number; ts: string; run_id: string | null }> };
    for (const c of calls) {
      lastSeq = Math.max(lastSeq, c.seq);
      if (!c.run_id) continue;
      if (!pollTimes.has(c.run_id)) pollTimes.set(c.run_id, []);
      pollTimes.get(c.run_id)!.push(Date.parse(c.ts));
    }
  };

  const samples: Array<{ t: number; cpu: number; rss: number; mem: number; waiting: number; done: number }> = [];
  let prev = procStats(wpid)!;
  let prevT = Date.now();
  let peakPerRun = 0;
  const deadline = t0 + (JOB_SEC + 180) * 1000;
  for (;;) {
    await sleep(10_000);
    const now = Date.now();
    const s = procStats(wpid)!;
    const recs = (await admin.mget(ids.map((id) => `${sys.prefix}run:${id}`))).map((r) => (r ? (JSON.parse(r) as { status: string }).status : 'missing'));
    const waiting = recs.filter((x) => x === 'waiting' || x === 'running').length;
    const done = recs.filter((x) => x === 'succeeded' || x === 'failed' || x === 'cancelled').length;
    const mem = await usedMemory();
    await collectPolls();
    samples.push({ t: (now - t0) / 1000, cpu: (s.cpuSec - prev.cpuSec) / ((now - prevT) / 1000), rss: s.rssBytes, mem, waiting, done });
    if (done === 0 && waiting === N) peakPerRun = Math.max(peakPerRun, (mem - baseline) / N);
    say(`t=${((now - t0) / 1000).toFixed(0)}s cpu=${(samples.at(-1)!.cpu * 100).toFixed(0)}% rss=${mb(s.rssBytes)} redis=${mb(mem)} active=${waiting} done=${done}`);
    prev = s;
    prevT = now;
    if (done === N || now > deadline) break;
  }

  // poll lateness from the gateway's call log: poll k parked the run for jittered(POLL, `<run>:<k>`)
  await collectPolls();
  const late: number[] = [];
  const lateByMin = new Map<number, number[]>(); // by minute of the due time since the first submit
  let polls = 0; // parks: every get_task but each run's last (which found the job done)
  const statuses: Record<string, number> = {};
  for (const id of ids) {
    const times = pollTimes.get(id) ?? [];
    for (let k = 1; k < times.length; k++) {
      polls++;
      const due = times[k - 1]! + jittered(POLL_SEC * 1000, `${id}:${k}`);
      late.push(times[k]! - due);
      const m = Math.floor((due - t0) / 60_000);
      if (!lateByMin.has(m)) lateByMin.set(m, []);
      lateByMin.get(m)!.push(times[k]! - due);
    }
    const rec = JSON.parse((await admin.get(`${sys.prefix}run:${id}`)) ?? '{"status":"missing"}') as { status: string };
    statuses[rec.status] = (statuses[rec.status] ?? 0) + 1;
  }
  // sample keys of one run for MEMORY USAGE
  const one = ids[0]!;
  const mu = async (k: string) => Number((await admin.call('MEMORY', 'USAGE', k, 'SAMPLES', '0')) ?? 0);

  console.log(`waiting is free: ${N} release_check runs, job ${JOB_SEC} s, poll every ${POLL_SEC} s, 1 worker process × concurrency ${CONC}; load before ${loadBefore}, after ${load()}`);
  console.log(`runs: ${JSON.stringify(statuses)}; polls: ${polls} (${(N / POLL_SEC).toFixed(0)} due per second at full load)`);
  console.log(`poll lateness ms: p50=${pct(late, 50)} p90=${pct(late, 90)} p99=${pct(late, 99)} max=${maxOf(late)} (n=${late.length})`);
  console.log(`poll lateness per minute (by due time): ${[...lateByMin.entries()].sort((a, b) => a[0] - b[0]).map(([m, xs]) => `min ${m}: n=${xs.length} p50=${pct(xs, 50)} p99=${pct(xs, 99)} max=${maxOf(xs)}`).join('; ')}`);
  console.log(`redis used_memory per waiting run (all ${N} parked, first samples): ${peakPerRun ? `${Math.round(peakPerRun)} B` : 'n/a'}; ` +
    `one finished run's keys: record ${await mu(`${sys.prefix}run:${one}`)} B, events ${await mu(`${sys.prefix}run:${one}:events`)} B`);
  const steady = samples.filter((s) => s.done === 0);
  const cpus = steady.map((s) => s.cpu * 100);
  const rss = steady.map((s) => s.rss);
  const cpuSec = procStats(wpid)!.cpuSec - cpuAtStart;
  const usPerPoll = (cpuSec / Math.max(1, polls)) * 1e6;
  console.log(`worker CPU per poll, whole run (creation and finish included): ${usPerPoll.toFixed(0)} µs (${cpuSec.toFixed(1)} s for ${polls} polls)`);
  if (reference) {
    console.log(`reference, same run (bench/delay-cycle.ts --tool=1, the floor of a poll):\n${reference.replace(/^/gm, '  ')}`);
    console.log(`worker CPU per poll ÷ the floor's: ${(usPerPoll / floorUsPerPoll).toFixed(2)} (${usPerPoll.toFixed(0)} ÷ ${floorUsPerPoll} µs)`);
  }
  console.log(`worker while all wait (${steady.length} samples): cpu ${Math.min(...cpus).toFixed(0)}–${Math.max(...cpus).toFixed(0)} % of a core, rss ${mb(Math.min(...rss))}–${mb(Math.max(...rss))}`);
  console.log('| t (s) | worker CPU | worker RSS | Redis used_memory | active | done |');
  for (const s of samples) console.log(`| ${s.t.toFixed(0)} | ${(s.cpu * 100).toFixed(0)} % | ${mb(s.rss)} | ${mb(s.mem)} | ${s.waiting} | ${s.done} |`);
} finally {
  await sys.stop().catch(() => undefined);
  await admin.quit();
  await server.stop();
}
process.exit(0);
