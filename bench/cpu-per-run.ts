/**
 * CPU per run, the figure that decides throughput on a small machine (wall-clock rates swing
 * ±30 % here with the neighbours' load; CPU time per run swings far less): N no-op 8-node runs
 * through the production processor in this process (bench/lib/noop.ts, logs at LOG_LEVEL, default
 * warn so this measures the processor, not stdout), on a throwaway redis-server. Prints the rate,
 * this process's CPU per run (user + system, GC threads included) and redis-server's CPU per run.
 * `--slowlog` also breaks Redis time down by command and script (SLOWLOG with a 0 µs threshold —
 * it adds its own overhead to the Redis figure).
 *
 *   pnpm exec tsx bench/cpu-per-run.ts [runs=3000] [--concurrency=50] [--slowlog]
 */
import { Redis } from 'ioredis';
import { RedisServer } from './lib/redis-server.js';
import { startNoopWorker, submitNoop } from './lib/noop.js';
import { arg, infoNumber } from './lib/util.js';

const N = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? 3000);
const concurrency = arg('concurrency', 50);
const slowlog = process.argv.includes('--slowlog');
const server = await RedisServer.start();
const admin = new Redis(server.url);
const w = await startNoopWorker({ url: server.url, prefix: '', concurrency, autorun: false, logLevel: process.env.LOG_LEVEL ?? 'warn' });
await submitNoop(w, 'noop8', N, 50);

const redisCpu = async () => {
  const info = await admin.info('cpu');
  return infoNumber(info, 'used_cpu_user') + infoNumber(info, 'used_cpu_sys');
};
if (slowlog) {
  await admin.config('SET', 'slowlog-log-slower-than', '0');
  await admin.config('SET', 'slowlog-max-len', String(N * 40));
  await admin.slowlog('RESET');
}
let done = 0;
const all = new Promise<void>((r) => w.worker.on('completed', () => void (++done === N && r())));
const r0 = await redisCpu();
const c0 = process.cpuUsage();
const t0 = performance.now();
void w.worker.run();
await all;
const ms = performance.now() - t0;
const cpu = process.cpuUsage(c0);
const r1 = await redisCpu();
console.log(`${N} noop8 runs, concurrency ${concurrency}: ${((N * 1000) / ms).toFixed(0)} runs/s; worker CPU ${((cpu.user + cpu.system) / N).toFixed(0)} µs/run; redis-server CPU ${(((r1 - r0) * 1e6) / N).toFixed(0)} µs/run${slowlog ? ' (with SLOWLOG on)' : ''}`);

if (slowlog) {
  await admin.config('SET', 'slowlog-log-slower-than', '10000');
  const entries = (await admin.slowlog('GET', N * 40)) as Array<[number, number, number, string[]]>;
  const by = new Map<string, { n: number; us: number }>();
  for (const [, , us, args] of entries) {
    const cmd = String(args[0]).toLowerCase();
    if (cmd === 'slowlog' || cmd === 'config') continue;
    const key = cmd === 'evalsha' ? `evalsha ${String(args[1]).slice(0, 8)} (${args[2]} keys)` : cmd;
    const e = by.get(key) ?? { n: 0, us: 0 };
    e.n++;
    e.us += us;
    by.set(key, e);
  }
  console.log('Redis time by command (commands inside scripts are listed on their own too):');
  for (const [k, e] of [...by].sort((a, b) => b[1].us - a[1].us).slice(0, 12)) {
    console.log(`  ${k.padEnd(32)} ${(e.n / N).toFixed(2).padStart(6)} per run  avg ${(e.us / e.n).toFixed(1).padStart(6)} µs  = ${(e.us / N).toFixed(0).padStart(4)} µs/run`);
  }
}
await w.close();
await admin.quit();
await server.stop();
process.exit(0);
