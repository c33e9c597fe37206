/**
 * What a housekeeping pass costs with many live runs: N runs queued (record + waiting job, as the
 * API leaves them; no worker takes them), of which 1 % have lost their job. One pass of the live-run
 * repair (apps/worker/src/repair.ts) and one whole housekeeping pass (+ queue clean-up, index trim)
 * on a throwaway redis-server: wall time, redis-server CPU, Redis commands. Last, the one-time fill
 * of runs:live from runs:index (fill-live.lua) that the first pass after the upgrade does.
 * Decides how often housekeeping can run (HOUSEKEEPING_EVERY_SEC).
 *
 *   pnpm exec tsx bench/housekeeping.ts [--runs=10000] [--rounds=3]
 */
import { PassThrough } from 'node:stream';
import { createLogger } from '@sup/logging';
import { createRunQueue, submitRun } from '@sup/queue';
import { createRedis, RunStore } from '@sup/run-store';
import { housekeeping } from '../apps/worker/src/housekeeping.js';
import { REPAIR_GRACE_MS, repairLiveRuns } from '../apps/worker/src/repair.js';
import { commandStats, diffStats, RedisServer } from './lib/redis-server.js';
import { arg, infoNumber, load, say } from './lib/util.js';

const N = arg('runs', 10_000);
const ROUNDS = arg('rounds', 3);
const TTL = 86_400;
const prefix = 'hk:';

const server = await RedisServer.start();
const redis = createRedis(server.url, { name: 'bench-store' });
const bull = createRedis(server.url, { name: 'bench-bull', forBullmq: true });
const store = new RunStore({ redis, prefix, ttlSec: TTL });
const queue = createRunQueue(bull, prefix);
const log = createLogger({ service: 'bench', stream: new PassThrough().resume() });
const loadBefore = load();

say(`submitting ${N} runs`);
const ids: string[] = [];
let next = 0;
await Promise.all(Array.from({ length: 50 }, async () => {
  while (next < N) {
    next++;
    ids.push((await submitRun({ store, queue, ttlSec: TTL }, { graph: 'release_check', agentId: 'bench', input: {} })).record.run_id);
  }
}));

const redisCpu = async () => {
  const info = await redis.info('cpu');
  return infoNumber(info, 'used_cpu_sys') + infoNumber(info, 'used_cpu_user');
};
async function measure(what: string, fn: () => Promise<unknown>) {
  const [cpu0, stats0, t0] = [await redisCpu(), await commandStats(redis), performance.now()];
  const result = await fn();
  const ms = performance.now() - t0;
  const [cpu1, stats1] = [await redisCpu(), await commandStats(redis)];
  const cmds = diffStats(stats1, stats0);
  // the two INFO calls of the measurement itself are not the pass's
  const total = Object.values(cmds).reduce((a, b) => a + b, 0) - 2;
  console.log(`${what.padEnd(28)} wall ${ms.toFixed(0).padStart(5)} ms  redis-server CPU ${((cpu1 - cpu0) * 1000).toFixed(0).padStart(5)} ms  commands ${total}  -> ${JSON.stringify(result)}`);
}

const later = () => Date.now() + REPAIR_GRACE_MS + 1;
const repair = () => repairLiveRuns({ queue, redis, store, log, ttlSec: TTL }, later());
for (let round = 1; round <= ROUNDS; round++) {
  // 1 % lose their job, as a lost write would leave them
  const lost = ids.filter((_, i) => i % 100 === round);
  for (const id of lost) await queue.remove(id);
  say(`round ${round}: ${lost.length} of ${N} live runs without a job`);
  await measure(`repair (${N} live)`, repair);
  await measure('repair, nothing to do', repair);
  await measure('whole housekeeping pass', () => housekeeping({ queues: [queue], store, ttlSec: TTL, log, now: Date.now, repairRuns: repair }));
}
// the one-time fill after an upgrade: the live set as an older version left it (absent)
await redis.del(store.keys.live, store.keys.liveFilled);
await measure(`fill runs:live (${N} in the index)`, () => store.fillLive(Date.now()));
say(`load before ${loadBefore}, after ${load()}`);
await queue.close();
redis.disconnect();
bull.disconnect();
await server.stop();
