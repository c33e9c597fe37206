/**
 * CPU per run of two builds of the worker, compared in ONE process: each checkout's own
 * bench/lib/noop.ts (its processor, engine, run-store, queue) serves the no-op 8-node graph on its
 * own key prefix of one throwaway redis-server, and the two take turns — a block of runs on one,
 * then a block on the other, the order swapped every round — so the neighbours' load on a shared
 * machine hits both alike, which separate processes minutes apart do not (there the same build
 * varied by ±20 % from one run to the next). Per block: runs submitted while the queue is paused
 * (not counted), then the queue resumed and this process's CPU (user + system, GC threads
 * included) and redis-server's counted until the block's last run completed.
 *
 *   pnpm exec tsx bench/cpu-ab.ts A_DIR B_DIR [--rounds=12] [--block=1000] [--concurrency=50]
 *
 * A_DIR and B_DIR are checkouts (git worktree or clone) with `pnpm install` and
 * `pnpm turbo run build` done. Prints medians per side and the median of B ÷ A over the rounds.
 */
import { resolve } from 'node:path';
import { Redis } from 'ioredis';
import { RedisServer } from './lib/redis-server.js';
import type { NoopWorker, startNoopWorker as Start, submitNoop as Submit } from './lib/noop.js';
import { arg, infoNumber, load, say } from './lib/util.js';

const [dirA, dirB] = process.argv.slice(2).filter((a) => !a.startsWith('--'));
if (!dirA || !dirB) throw new Error('usage: cpu-ab.ts A_DIR B_DIR [--rounds=12] [--block=1000] [--concurrency=50]');
const rounds = arg('rounds', 12);
const block = arg('block', 1000);
const concurrency = arg('concurrency', 50);

interface Side { name: string; w: NoopWorker; submit: typeof Submit; worker: number[]; redis: number[] }

const server = await RedisServer.start();
const admin = new Redis(server.url);
const redisCpu = async () => {
  const info = await admin.info('cpu');
  return infoNumber(info, 'used_cpu_user') + infoNumber(info, 'used_cpu_sys');
};

async function side(name: string, dir: string, prefix: string): Promise<Side> {
  const lib = (await import(resolve(dir, 'bench/lib/noop.ts'))) as { startNoopWorker: typeof Start; submitNoop: typeof Submit };
  const w = await lib.startNoopWorker({ url: server.url, prefix, concurrency, logLevel: 'warn' });
  return { name, w, submit: lib.submitNoop, worker: [], redis: [] };
}

async function runBlock(s: Side): Promise<void> {
  await s.w.queue.pause();
  await s.submit(s.w, 'noop8', block, 50);
  let done = 0;
  const all = new Promise<void>((r) => {
    const on = () => {
      if (++done < block) return;
      s.w.worker.off('completed', on);
      r();
    };
    s.w.worker.on('completed', on);
  });
  const r0 = await redisCpu();
  const c0 = process.cpuUsage();
  await s.w.queue.resume();
  await all;
  const c = process.cpuUsage(c0);
  const r1 = await redisCpu();
  s.worker.push((c.user + c.system) / block);
  s.redis.push(((r1 - r0) * 1e6) / block);
}

const a = await side('A', dirA, 'a:');
const b = await side('B', dirB, 'b:');
say(`A = ${dirA}, B = ${dirB}; ${rounds} rounds of ${block} noop8 runs each, concurrency ${concurrency}; load ${load()}`);
// one warm-up block each (JIT, connections, scripts loaded), not counted
for (const s of [a, b]) {
  await runBlock(s);
  s.worker.length = 0;
  s.redis.length = 0;
}
for (let i = 0; i < rounds; i++) {
  for (const s of i % 2 === 0 ? [a, b] : [b, a]) await runBlock(s);
  say(`round ${i + 1}: A ${a.worker.at(-1)!.toFixed(0)} + ${a.redis.at(-1)!.toFixed(0)} µs, B ${b.worker.at(-1)!.toFixed(0)} + ${b.redis.at(-1)!.toFixed(0)} µs (worker + redis per run); load ${load()}`);
}

const median = (xs: number[]) => {
  const s = [...xs].sort((x, y) => x - y);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const range = (xs: number[]) => `${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)}`;
const ratio = (f: (s: Side, i: number) => number) => a.worker.map((_, i) => f(b, i) / f(a, i));
for (const s of [a, b]) {
  const sum = s.worker.map((w, i) => w + s.redis[i]!);
  console.log(`${s.name}: worker ${median(s.worker).toFixed(0)} µs/run (${range(s.worker)}), redis-server ${median(s.redis).toFixed(0)} (${range(s.redis)}), both ${median(sum).toFixed(0)} (${range(sum)})`);
}
const fmt = (xs: number[]) => `${median(xs).toFixed(3)} (${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)})`;
console.log(`B ÷ A per round, median (range): worker ${fmt(ratio((s, i) => s.worker[i]!))}, redis-server ${fmt(ratio((s, i) => s.redis[i]!))}, both ${fmt(ratio((s, i) => s.worker[i]! + s.redis[i]!))}; load ${load()}`);
await Promise.all([a.w.close(), b.w.close()]);
await admin.quit();
await server.stop();
process.exit(0);
