/**
 * Where a worker's CPU goes: the production processor on the no-op 8-node graph (bench/lib/noop.ts),
 * in this process, on a throwaway redis-server, under the V8 CPU profiler; then the share of busy
 * CPU time spent inside a few functions (inclusive, synchronous stacks only — time after an await
 * is attributed to whatever resumed it, so shares do not add up to 100 %).
 *
 *   pnpm exec tsx bench/profile-worker.ts [runs=1500] [--concurrency=10] [--top=25]
 */
import { Session } from 'node:inspector/promises';
import { RedisServer } from './lib/redis-server.js';
import { startNoopWorker, submitNoop } from './lib/noop.js';
import { inclusive, summarise, topSelf, type CpuProfile } from './lib/profile.js';
import { arg } from './lib/util.js';

const N = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? 1500);
const server = await RedisServer.start();
const w = await startNoopWorker({ url: server.url, prefix: '', concurrency: arg('concurrency', 10), autorun: false, logLevel: process.env.LOG_LEVEL ?? 'info' });
await submitNoop(w, 'noop8', N, 50);
// the worker logs one line per node, as in production: keep it off the terminal
const write = process.stdout.write.bind(process.stdout);
process.stdout.write = (() => true) as typeof process.stdout.write;

const session = new Session();
session.connect();
await session.post('Profiler.enable');
await session.post('Profiler.start');
let done = 0;
const all = new Promise<void>((r) => w.worker.on('completed', () => void (++done === N && r())));
const t0 = Date.now();
void w.worker.run();
await all;
const ms = Date.now() - t0;
const { profile } = await session.post('Profiler.stop');
process.stdout.write = write;

const s = summarise(profile as CpuProfile);
const WATCH: Array<[string, RegExp]> = [
  ['engine step() (XState restore, run node, persist)', /^step@.*engine\/dist\/step\.js$/],
  ['  of which createActor', /^createActor@/],
  ['store.commit (JSON.stringify record + EVALSHA)', /^commit@.*run-store\/dist\/store\.js$/],
  ['job.updateProgress (showNode)', /^updateProgress@/],
  ['winston log line', /^log@.*winston/],
  ['BullMQ moveToFinished', /^moveToFinished@/],
  ['garbage collector', /^\(garbage collector\)@/],
];
console.log(`${N} noop8 runs in ${ms} ms (${((N * 1000) / ms).toFixed(0)} runs/s, one process); CPU busy ${((100 * s.busy) / s.total).toFixed(0)} % of the profiled time`);
for (const [label, share] of inclusive(s, WATCH, profile.nodes[0]!.id)) console.log(`${label.padEnd(52)} ${share.toFixed(1)} % of busy CPU`);
// --top=N: the N functions with the most self time (where the CPU actually is)
const top = arg('top', 0);
if (top > 0) {
  console.log(`top ${top} by self time:`);
  for (const l of topSelf(s, top)) console.log(l);
}
await w.close();
await server.stop();
process.exit(0);
