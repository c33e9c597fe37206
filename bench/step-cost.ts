/**
 * Step cost: Redis commands per node step of the engine, from INFO commandstats deltas on a
 * throwaway redis-server that only this script talks to (commands called from Lua scripts are
 * counted by Redis, so the Lua-internal GET/SET/XADD/... are in the figures).
 *
 *   reference  a raw BullMQ job: Queue.add + a Worker whose processor returns at once
 *   engine     runs of makeNoopGraph('noop1', 1) and ('noop8', 8) through the production processor
 *              (apps/worker/src/processor.ts) on a real BullMQ Worker, submitted like the API does
 *   per step   (noop8 − noop1) / 7: what one more node costs
 *
 * Then one noop8 run under MONITOR: every command in order, per connection (`--trace` prints it).
 * Workers run at concurrency 1; lock/stall timers are 30 s, so they do not fire inside a phase.
 *
 *   pnpm exec tsx bench/step-cost.ts [runs=500] [--trace]
 */
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { runJobOptions } from '@sup/queue';
import { commandStats, diffStats, RedisServer } from './lib/redis-server.js';
import { startNoopWorker, submitNoop, type NoopGraph } from './lib/noop.js';

const N = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? 500);
const TRACE = process.argv.includes('--trace');

type Stats = Record<string, number>;
const sum = (s: Stats) => Object.values(s).reduce((a, b) => a + b, 0);
const per = (s: Stats, n: number) => Object.fromEntries(Object.entries(s).sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, +(v / n).toFixed(2)]));
const EVALS = new Set(['evalsha', 'eval', 'evalsha_ro', 'eval_ro', 'fcall']);

const server = await RedisServer.start();
const admin = new Redis(server.url);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

const say = (m: string) => process.stderr.write(`${m}\n`);
async function measure(fn: () => Promise<void>): Promise<Stats> {
  await sleep(100);
  const before = await commandStats(admin);
  await fn();
  await sleep(100);
  const after = await commandStats(admin);
  const d = diffStats(after, before);
  // the two INFO calls of this function are not the system's
  d.info = (d.info ?? 0) - 1;
  if (d.info <= 0) delete d.info;
  return d;
}

/** Monitor a phase: top-level vs Lua-internal counts, and the command list. */
async function monitored(fn: () => Promise<void>): Promise<{ top: Stats; lua: Stats; lines: string[] }> {
  const names = new Map<string, string>();
  const list = (await admin.client('LIST')) as string;
  for (const l of list.split('\n')) {
    const addr = l.match(/addr=(\S+)/)?.[1];
    const name = l.match(/name=(\S*)/)?.[1];
    if (addr) names.set(addr, name || '(unnamed)');
  }
  const monConn = new Redis(server.url);
  const mon = await monConn.monitor();
  const top: Stats = {};
  const lua: Stats = {};
  const lines: string[] = [];
  mon.on('monitor', (_t: string, args: string[], source: string) => {
    const cmd = args[0]!.toLowerCase();
    if (cmd === 'client' || cmd === 'info') return;
    const isLua = source === 'lua';
    (isLua ? lua : top)[cmd] = ((isLua ? lua : top)[cmd] ?? 0) + 1;
    const who = isLua ? '    (lua)' : names.get(source) ?? source;
    const shown = args.slice(0, 4).map((a) => (a.length > 40 ? `${a.slice(0, 40)}…` : a)).join(' ');
    lines.push(`${who.padEnd(22)} ${shown}`);
  });
  await sleep(50);
  await fn();
  await sleep(100);
  mon.disconnect();
  monConn.disconnect();
  return { top, lua, lines };
}

function waitCompleted(worker: Worker, n: number): Promise<void> {
  return new Promise((resolve) => {
    let done = 0;
    const on = () => {
      if (++done === n) {
        worker.off('completed', on);
        resolve();
      }
    };
    worker.on('completed', on);
  });
}

const results: Record<string, { submit: Stats; process: Stats }> = {};

// ---- reference: raw BullMQ no-op job (same job options as a run) ----
{
  const prefix = 'ref';
  const conn = new Redis(server.url, { maxRetriesPerRequest: null });
  const queue = new Queue('runs', { connection: conn, prefix });
  const worker = new Worker('runs', async () => 'ok', { connection: conn, prefix, concurrency: 1, lockDuration: 30_000, stalledInterval: 30_000, autorun: false });
  await worker.waitUntilReady();
  const add = async (n: number, tag: string) => {
    for (let i = 0; i < n; i++) await queue.add('run', { run_id: `${tag}${i}`, graph: 'none' }, runJobOptions(`${tag}${i}`, 86_400));
  };
  say('reference: warm-up');
  await add(20, 'warm');
  const warm = waitCompleted(worker, 20);
  void worker.run();
  await warm;
  await worker.pause();
  const submit = await measure(() => add(N, 'j'));
  const process = await measure(async () => {
    const done = waitCompleted(worker, N);
    worker.resume();
    await done;
  });
  results['raw BullMQ job'] = { submit, process };
  await worker.close();
  await queue.close();
  await conn.quit();
}

// ---- engine: no-op graphs through the production processor ----
const w = await startNoopWorker({ url: server.url, prefix: '', concurrency: 1, autorun: false });
{
  say('engine: warm-up');
  await submitNoop(w, 'noop8', 20, 1);
  const warm = waitCompleted(w.worker, 20);
  void w.worker.run();
  await warm;
  for (const graph of ['noop1', 'noop8'] as NoopGraph[]) {
    say(`engine: ${graph}`);
    await w.worker.pause();
    const submit = await measure(async () => void (await submitNoop(w, graph, N, 1)));
    const process = await measure(async () => {
      const done = waitCompleted(w.worker, N);
      w.worker.resume();
      await done;
    });
    results[graph] = { submit, process };
  }
}
// idle background of a running worker (timers, blocking waits) over 2 s
const idle = await measure(() => sleep(2_000));

say('monitor');
// ---- one noop8 run under MONITOR: top-level vs Lua-internal, every command ----
await w.worker.pause();
await submitNoop(w, 'noop8', 1, 1); // warm the script cache for this connection state
{
  const done = waitCompleted(w.worker, 1);
  w.worker.resume();
  await done;
}
await w.worker.pause();
const oneSubmit = await monitored(async () => void (await submitNoop(w, 'noop8', 1, 1)));
const oneProcess = await monitored(async () => {
  const done = waitCompleted(w.worker, 1);
  w.worker.resume();
  await done;
});
await w.worker.pause();
await submitNoop(w, 'noop1', 1, 1);
const oneProcess1 = await monitored(async () => {
  const done = waitCompleted(w.worker, 1);
  w.worker.resume();
  await done;
});
await w.close();

// ---- report ----
const line = (label: string, s: Stats, n: number) => `  ${label.padEnd(26)} ${(sum(s) / n).toFixed(2).padStart(7)}  ${JSON.stringify(per(s, n))}`;
console.log(`step cost: ${N} runs/jobs per phase, concurrency 1, throwaway redis-server ${server.url}`);
console.log('commands per run/job (INFO commandstats delta / N; Lua-internal calls included):');
for (const [k, r] of Object.entries(results)) {
  console.log(line(`${k} submit`, r.submit, N));
  console.log(line(`${k} process`, r.process, N));
}
const tot = (k: string) => (sum(results[k]!.submit) + sum(results[k]!.process)) / N;
const marg: Stats = diffStats(
  Object.fromEntries(Object.entries(results.noop8!.process).map(([k, v]) => [k, v])),
  results.noop1!.process,
);
console.log(line('per extra node (8−1)/7', Object.fromEntries(Object.entries(marg).map(([k, v]) => [k, (v * N) / 7 / N])), N));
console.log(`totals per run: raw BullMQ job ${tot('raw BullMQ job').toFixed(2)}, noop1 ${tot('noop1').toFixed(2)}, noop8 ${tot('noop8').toFixed(2)}; ` +
  `per node step (marginal) ${((sum(results.noop8!.process) - sum(results.noop1!.process)) / N / 7).toFixed(2)} commands`);
console.log(`idle worker background over 2 s: ${JSON.stringify(idle)}`);
console.log(`MONITOR, one noop8 run: submit top-level=${sum(oneSubmit.top)} ${JSON.stringify(oneSubmit.top)} lua=${JSON.stringify(oneSubmit.lua)}`);
console.log(`MONITOR, one noop8 run: process top-level=${sum(oneProcess.top)} ${JSON.stringify(oneProcess.top)} lua=${JSON.stringify(oneProcess.lua)}`);
console.log(`MONITOR evalsha/eval calls (round trips into Lua): submit=${Object.entries(oneSubmit.top).filter(([k]) => EVALS.has(k)).reduce((a, [, v]) => a + v, 0)} process=${Object.entries(oneProcess.top).filter(([k]) => EVALS.has(k)).reduce((a, [, v]) => a + v, 0)}`);
// bzpopmin is the blocking fetch: its count depends on timing, not on the run
const trips = (t: Stats) => sum(t) - (t.bzpopmin ?? 0);
console.log(`round trips (top-level commands without bzpopmin) per run: noop1 ${trips(oneProcess1.top)}, noop8 ${trips(oneProcess.top)}; ` +
  `per extra node ${((trips(oneProcess.top) - trips(oneProcess1.top)) / 7).toFixed(2)}`);
if (TRACE) {
  console.log('--- submit trace ---');
  for (const l of oneSubmit.lines) console.log(l);
  console.log('--- process trace ---');
  for (const l of oneProcess.lines) console.log(l);
}
await admin.quit();
await server.stop();
process.exit(0);
