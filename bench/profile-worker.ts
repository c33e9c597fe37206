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

interface Node { id: number; callFrame: { functionName: string; url: string }; children?: number[] }
const nodes = new Map<number, Node>((profile.nodes as Node[]).map((n) => [n.id, n]));
const self = new Map<number, number>();
let total = 0;
profile.samples!.forEach((id, i) => {
  const dt = profile.timeDeltas![i] ?? 0;
  self.set(id, (self.get(id) ?? 0) + dt);
  total += dt;
});
const idle = [...self].filter(([id]) => nodes.get(id)!.callFrame.functionName === '(idle)').reduce((a, [, t]) => a + t, 0);
const busy = total - idle;
const WATCH: Array<[string, RegExp]> = [
  ['engine step() (XState restore, run node, persist)', /^step@.*engine\/dist\/step\.js$/],
  ['  of which createActor', /^createActor@/],
  ['store.commit (JSON.stringify record + EVALSHA)', /^commit@.*run-store\/dist\/store\.js$/],
  ['job.updateProgress (showNode)', /^updateProgress@/],
  ['winston log line', /^log@.*winston/],
  ['BullMQ moveToFinished', /^moveToFinished@/],
  ['garbage collector', /^\(garbage collector\)@/],
];
const incl = new Map<string, number>(WATCH.map(([k]) => [k, 0]));
const walk = (id: number, active: Set<string>) => {
  const n = nodes.get(id)!;
  const key = `${n.callFrame.functionName}@${n.callFrame.url}`;
  const now = new Set(active);
  for (const [label, re] of WATCH) if (re.test(key)) now.add(label);
  const s = self.get(id) ?? 0;
  for (const l of now) incl.set(l, incl.get(l)! + s);
  for (const c of n.children ?? []) walk(c, now);
};
walk(profile.nodes[0]!.id, new Set());
console.log(`${N} noop8 runs in ${ms} ms (${((N * 1000) / ms).toFixed(0)} runs/s, one process); CPU busy ${((100 * busy) / total).toFixed(0)} % of the profiled time`);
for (const [label, t] of incl) console.log(`${label.padEnd(52)} ${((100 * t) / busy).toFixed(1)} % of busy CPU`);
// --top=N: the N functions with the most self time (where the CPU actually is)
const top = arg('top', 0);
if (top > 0) {
  const byFn = new Map<string, number>();
  for (const [id, t] of self) {
    const { functionName, url } = nodes.get(id)!.callFrame;
    if (functionName === '(idle)') continue;
    const key = `${functionName || '(anonymous)'} ${url.replace(/^.*\/node_modules\/(\.pnpm\/[^/]+\/node_modules\/)?/, '').replace(/^file:\/\/.*\/(packages|apps|bench)\//, '$1/')}`;
    byFn.set(key, (byFn.get(key) ?? 0) + t);
  }
  console.log(`top ${top} by self time:`);
  for (const [k, t] of [...byFn].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${((100 * t) / busy).toFixed(1).padStart(5)} %  ${k}`);
}
await w.close();
await server.stop();
process.exit(0);
