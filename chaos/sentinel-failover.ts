/**
 * Redis Sentinel failovers under load: a master, a replica and one sentinel (throwaway
 * redis-servers), an API and 2 workers that find the master through the sentinel only, release_check
 * runs submitted at a steady pace whose jobs take 1.5 s (so most runs are parked and polling), and a
 * `SENTINEL FAILOVER` every few seconds (the roles swap each time). Replication is asynchronous, so
 * a failover may drop the last writes the old master acknowledged; every run the API accepted must
 * still finish. Reports how often a worker found its run rolled back under it (`run_handed_back`).
 *
 *   pnpm exec tsx chaos/sentinel-failover.ts [--short] [--runs=300] [--failovers=6] [--replicas=1|2] [--kill=0|1] [--planned=0|1]
 */
import { Redis } from 'ioredis';
import { arg, infoField } from '../bench/lib/util.js';
import { finish, load, paced, say, settle, SHORT, sleep, startSystem, watchdog } from './lib.js';

const RUNS = arg('runs', SHORT ? 40 : 300);
const FAILOVERS = arg('failovers', SHORT ? 2 : 6);
const NAME = 'supmaster';
watchdog(SHORT ? 120_000 : 600_000);

const loadBefore = load();
const { LocalSentinel, redisCli } = await import('../e2e/src/redis-servers.js');
const { until } = await import('../e2e/src/procs.js');
const { System } = await import('../e2e/src/system.js');
// --replicas=2: what production should run; with one, the new master waits for the demoted one
const sentinel = new LocalSentinel(NAME, arg('replicas', 1));
process.once('exit', () => void sentinel.stop());
await sentinel.start();
// MIN_REPLICAS=1: a master that has lost its replica refuses writes after MAX_LAG s (min-replicas-to-write
// 1, min-replicas-max-lag 3 by default), which bounds what a demoted master can still accept (docs/deployment.md)
const MIN_REPLICAS = arg('min-replicas', 1);
const MAX_LAG = arg('max-lag', 3);
// --kill=1: SIGKILL the master (a dead host) instead of SENTINEL FAILOVER, then bring it back
const KILL = arg('kill', 0) === 1;
// --planned=1: SENTINEL FAILOVER the way docs/deployment.md says to (min-replicas-to-write raised to
// the number of replicas on the master just before, put back on it once it is demoted)
const PLANNED = arg('planned', 0) === 1;
for (const { port } of sentinel.nodes) {
  await redisCli(port, 'CONFIG', 'SET', 'min-replicas-to-write', String(MIN_REPLICAS), 'min-replicas-max-lag', String(MAX_LAG));
}
const sentinels = `127.0.0.1:${sentinel.sentinel.port}`;
const sys = await startSystem(System, {
  workers: 2,
  // REDIS_URL points nowhere: every process must find the master through the sentinel
  redis: { sentinels, sentinelName: NAME, url: 'redis://127.0.0.1:1' },
  simEnv: { SIM_JOB_DURATION_MS: '1500' },
});
const admin = new Redis({ sentinels: [{ host: '127.0.0.1', port: sentinel.sentinel.port }], name: NAME, maxRetriesPerRequest: null, failoverDetector: true });
admin.on('error', () => undefined);

const t0 = Date.now();
const gen = paced(sys, 'release_check', (i) => ({ service: `fo${i}`, version: '1.0.0' }), RUNS, SHORT ? 10 : 15);
const switchMs: number[] = [];
const refusalMs: number[] = [];
let stuckAfterKill = 0;
/** Every replica of the current master is linked and has what the master has: a failover now loses only in-flight writes. */
async function replicaInSync(): Promise<void> {
  let seen = '';
  await until('the replicas to be linked and caught up', async () => {
    const master = await sentinel.masterPort();
    const m = await redisCli(master, 'INFO', 'replication');
    seen = `sentinel names ${master};`;
    let ok = true;
    for (const { port } of sentinel.nodes.filter((n) => n.port !== master)) {
      const r = await redisCli(port, 'INFO', 'replication').catch(() => '');
      const lag = Number(infoField(m, 'master_repl_offset')) - Number(infoField(r, 'slave_repl_offset'));
      seen += ` ${port}: ${infoField(r, 'role') ?? 'down'} of ${infoField(r, 'master_port') ?? '-'} link ${infoField(r, 'master_link_status') ?? '-'} lag ${lag};`;
      ok &&= infoField(r, 'role') === 'slave' && infoField(r, 'master_port') === String(master) && infoField(r, 'master_link_status') === 'up' && lag < 100_000;
    }
    return ok;
  }, 90_000, 100).catch((err: Error) => {
    throw new Error(`${err.message} (${seen})`);
  });
}

const writable = async (port: number) => (await redisCli(port, 'SET', 'chaos:write-probe', '1').catch(() => '')) === 'OK';
for (let f = 0; f < FAILOVERS; f++) {
  await sleep(SHORT ? 1_500 : 3_000);
  // as in production, where failovers are rare: the demoted master has rejoined and resynced
  await replicaInSync();
  const before = await sentinel.masterPort();
  const started = Date.now();
  if (KILL) {
    // a dead master host: the sentinel fails over after down-after-milliseconds (1 s here)
    await sentinel.kill(before);
  } else {
    // the planned switchover of docs/deployment.md: the master demands every replica first, so once
    // the promoted one leaves it, it refuses writes instead of taking them through the other replica
    if (PLANNED) await redisCli(before, 'CONFIG', 'SET', 'min-replicas-to-write', String(sentinel.replicas.length));
    // the sentinel's own view of the replica lags behind INFO (NOGOODSLAVE until it has caught up)
    await until(`the sentinel to accept failover ${f + 1}`, async () => (await redisCli(sentinel.sentinel.port, 'SENTINEL', 'FAILOVER', NAME)) === 'OK', 30_000, 250);
  }
  await until(`failover ${f + 1}`, async () => (await sentinel.masterPort()) !== before, 30_000, 100);
  switchMs.push(Date.now() - started);
  // with min-replicas-to-write, the new master refuses writes until enough replicas are linked to
  // it: how long clients see 503s after a failover
  const after = await sentinel.masterPort();
  const ok = await until(`master ${after} to accept writes`, () => writable(after), KILL ? 20_000 : 60_000, 50).then(() => true, () => false);
  let note = '';
  if (KILL) {
    // the dead host comes back (empty, no persistence here) and the sentinel makes it a replica
    await sentinel.revive(before, ['--min-replicas-to-write', String(MIN_REPLICAS), '--min-replicas-max-lag', String(MAX_LAG)]);
    if (!ok) {
      await until(`master ${after} to accept writes once ${before} is back`, () => writable(after), 60_000, 50);
      note = ' (not until the dead master came back)';
      stuckAfterKill++;
    }
  }
  refusalMs.push(Date.now() - started);
  if (PLANNED) {
    // only once it is a replica: as a master it could take writes again through a lagging replica
    await until(`${before} to become a replica`, async () => infoField(await redisCli(before, 'INFO', 'replication'), 'role') === 'slave', 60_000, 100);
    await redisCli(before, 'CONFIG', 'SET', 'min-replicas-to-write', String(MIN_REPLICAS));
  }
  say(`failover ${f + 1}: master ${before} → ${after} in ${switchMs.at(-1)} ms, writable again after ${refusalMs.at(-1)} ms${note}`);
}
await gen.done;
const out = await settle(admin, sys.prefix, gen.accepted, SHORT ? 60_000 : 180_000);
const lines = sys.workers.flatMap((w) => w.lines);
const handedBack = lines.filter((l) => l.includes('run_handed_back')).length;
const released = lines.filter((l) => l.includes('run_released')).length;
const seconds = ((Date.now() - t0) / 1000).toFixed(1);
if (out.lost.length) {
  for (const id of out.lost.slice(0, 5)) say(`not finished: ${id} (${out.statuses[id]})\n${await sys.diagnose(id)}`);
}
say(`load before ${loadBefore}, after ${load()}`);
await sys.stop().catch(() => undefined);
await admin.quit().catch(() => undefined);
await sentinel.stop();

const failures: string[] = [];
if (out.lost.length) failures.push(`${out.lost.length} accepted runs did not finish: ${out.lost.slice(0, 5).join(', ')}`);
if ((out.counts.succeeded ?? 0) !== gen.accepted.length) failures.push(`not every accepted run succeeded: ${JSON.stringify(out.counts)}`);
if (switchMs.length !== FAILOVERS) failures.push(`${switchMs.length}/${FAILOVERS} failovers happened`);
finish({
  runs: gen.accepted.length, succeeded: out.counts.succeeded ?? 0, lost: out.lost.length, duplicated_nodes: 'n/a',
  failed: out.counts.failed ?? 0, rejected: Object.values(gen.rejected).reduce((a, b) => a + b, 0), rejected_by: JSON.stringify(gen.rejected), failovers: switchMs.length,
  switch_ms_max: switchMs.length ? Math.max(...switchMs) : 0, writable_after_ms_max: refusalMs.length ? Math.max(...refusalMs) : 0,
  ...(KILL ? { kills: switchMs.length, writes_blocked_until_dead_master_back: stuckAfterKill } : {}), handed_back: handedBack, released, seconds,
}, failures);
