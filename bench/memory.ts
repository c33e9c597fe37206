/**
 * Memory: Redis bytes per finished run, and proof that everything a run leaves expires.
 * Real processes (gateway-sim at zero latency, API, 2 workers) on a throwaway redis-server.
 *
 * Part 1 (RUN_TTL_SEC default 86400): N finished runs per graph; MEMORY USAGE of each key a run
 *   owns (record `run:<id>`, events `run:<id>:events`, BullMQ job hash), its share of the shared
 *   sorted sets (listing indexes, BullMQ `completed`), and the used_memory delta / N as a check.
 * Part 2 (RUN_TTL_SEC=60, the smallest accepted; HOUSEKEEPING_EVERY_SEC=10): runs finish, TTLs
 *   shown, then nothing more is submitted and the keys are counted by kind after the TTL and after
 *   2 x TTL: records and events go by Redis TTL, finished BullMQ jobs and the listing index by the
 *   workers' housekeeping (BullMQ's own `removeOnComplete.age` only acts when a later job completes).
 *
 *   pnpm exec tsx bench/memory.ts [--runs=300]
 */
import { Redis } from 'ioredis';
import { RedisServer } from './lib/redis-server.js';
import { arg, infoNumber, load, say, sleep, systemOn, startSystem } from './lib/util.js';

const N = arg('runs', 300);
const server = await RedisServer.start();
const System = await systemOn(server.url);
const admin = new Redis(server.url);
const usedMemory = async () => infoNumber(await admin.info('memory'), 'used_memory');
const mu = async (k: string) => Number((await admin.call('MEMORY', 'USAGE', k, 'SAMPLES', '0')) ?? 0);
const avg = (xs: number[]) => Math.round(xs.reduce((a, b) => a + b, 0) / xs.length);
const loadBefore = load();

type Sys = InstanceType<Awaited<ReturnType<typeof systemOn>>>;
const INPUT = {
  release_check: (i: number) => ({ service: `svc${i}`, version: '1.0.0' }),
  incident_triage: (i: number) => ({ service: `svc${i}`, incident_id: `inc_${i}`, symptoms: 'error rate up after deploy' }),
} as const;
type Graph = keyof typeof INPUT;

async function runAll(sys: Sys, graph: Graph, n: number): Promise<string[]> {
  const ids: string[] = [];
  let next = 0;
  await Promise.all(Array.from({ length: 20 }, async () => {
    while (next < n) ids.push(await sys.submit(graph, INPUT[graph](next++)));
  }));
  const deadline = Date.now() + 300_000;
  for (;;) {
    const st = (await admin.mget(ids.map((id) => `${sys.prefix}run:${id}`))).map((r) => (r ? (JSON.parse(r) as { status: string }).status : 'missing'));
    if (st.every((s) => s === 'succeeded' || s === 'failed' || s === 'cancelled')) {
      const bad = st.filter((s) => s !== 'succeeded').length;
      if (bad) say(`${graph}: ${bad} runs did not succeed`);
      return ids;
    }
    if (Date.now() > deadline) throw new Error(`${graph}: runs did not finish`);
    await sleep(200);
  }
}

/** Every key under the system's prefix, counted by kind. */
async function keyCensus(sys: Sys): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  const bull = `${sys.bullPrefix}:runs:`;
  let cursor = '0';
  do {
    const [c, keys] = await admin.scan(cursor, 'MATCH', `${sys.prefix}*`, 'COUNT', 1000);
    cursor = c;
    for (const k of keys) {
      let kind: string;
      // the store's listing indexes (`runs:index…`) share the `runs:` namespace with the BullMQ queue `runs`
      if (k.startsWith(`${sys.prefix}runs:index`)) kind = k.slice(sys.prefix.length).replace(/^(runs:index:(graph|agent)):.*/, '$1:*');
      else if (k.startsWith(bull)) {
        const rest = k.slice(bull.length);
        kind = /^gr_[a-z0-9]+$/.test(rest) ? 'bullmq job hash' : /^gr_/.test(rest) ? `bullmq job ${rest.replace(/^gr_[a-z0-9]+/, '*')}` : `bullmq ${rest}`;
      } else {
        const rest = k.slice(sys.prefix.length);
        kind = rest.replace(/gr_[a-z0-9]+/, '<id>').replace(/^idem:.*/, 'idem:*').replace(/^(schedules|webhooks):/, 'bullmq $1:');
      }
      out[kind] = (out[kind] ?? 0) + 1;
    }
  } while (cursor !== '0');
  return Object.fromEntries(Object.entries(out).sort());
}

try {
  // ---- part 1: sizes ----
  const sizes: string[] = [];
  const perRunTotals: Record<string, number> = {};
  const fields: string[] = [];
  {
    const sys = await startSystem(System, { workers: 2, simEnv: { SIM_JOB_DURATION_MS: '1000' } });
    try {
      await runAll(sys, 'incident_triage', 5); // warm-up: scripts loaded, shared keys created
      await runAll(sys, 'release_check', 5);
      const bull = `${sys.bullPrefix}:runs:`;
      for (const graph of Object.keys(INPUT) as Graph[]) {
        await sleep(500);
        const m0 = await usedMemory();
        const completed0 = await mu(`${bull}completed`);
        const ids = await runAll(sys, graph, N);
        await sleep(500);
        const m1 = await usedMemory();
        const sample = ids.slice(0, 50);
        const rec = avg(await Promise.all(sample.map((id) => mu(`${sys.prefix}run:${id}`))));
        const ev = avg(await Promise.all(sample.map((id) => mu(`${sys.prefix}run:${id}:events`))));
        const job = avg(await Promise.all(sample.map((id) => mu(`${bull}${id}`))));
        const nEvents = avg(await Promise.all(sample.map((id) => admin.xlen(`${sys.prefix}run:${id}:events`))));
        const completedShare = Math.round(((await mu(`${bull}completed`)) - completed0) / N);
        const total = rec + ev + job + completedShare;
        perRunTotals[graph] = total;
        const one = JSON.parse((await admin.get(`${sys.prefix}run:${ids[0]}`))!) as Record<string, unknown>;
        fields.push(`${graph} record fields (bytes of JSON): ${Object.entries(one).map(([k, v]) => [k, JSON.stringify(v).length] as const).sort((x, y) => y[1] - x[1]).slice(0, 6).map(([k, n]) => `${k} ${n}`).join(', ')}`);
        sizes.push(`| ${graph} | ${rec} | ${ev} (${nEvents} events) | ${job} | ${completedShare} | ${total} | ${Math.round((m1 - m0) / N)} |`);
        say(sizes.at(-1)!);
      }
      sizes.push(`shared, bounded: BullMQ event stream ${await mu(`${bull}events`)} B (capped at ~10 000 entries), listing index ${await mu(`${sys.prefix}runs:index`)} B for ${await admin.zcard(`${sys.prefix}runs:index`)} runs`);
    } finally {
      await sys.stop();
    }
  }

  // ---- part 2: expiry with RUN_TTL_SEC=60, nothing submitted after the runs finish ----
  const TTL = 60; // the smallest RUN_TTL_SEC the config accepts
  const HK = 10; // HOUSEKEEPING_EVERY_SEC
  const expiry: string[] = [];
  {
    const env = { RUN_TTL_SEC: String(TTL) };
    const sys = await startSystem(System, { workers: 2, apiEnv: env, workerEnv: { ...env, HOUSEKEEPING_EVERY_SEC: String(HK) }, simEnv: { SIM_JOB_DURATION_MS: '500' } });
    try {
      const ids = [...(await runAll(sys, 'incident_triage', 20)), ...(await runAll(sys, 'release_check', 20))];
      const one = ids[0]!;
      const bull = `${sys.bullPrefix}:runs:`;
      expiry.push(`right after finishing: TTL run:${one} = ${await admin.ttl(`${sys.prefix}run:${one}`)} s, events = ${await admin.ttl(`${sys.prefix}run:${one}:events`)} s, ` +
        `job hash = ${await admin.ttl(`${bull}${one}`)} (no TTL: removed by removeOnComplete.age=${TTL} or housekeeping)`);
      expiry.push(`keys right after: ${JSON.stringify(await keyCensus(sys))}`);
      await sleep((TTL + HK + 2) * 1000);
      expiry.push(`keys ${TTL + HK + 2} s later (TTL + one housekeeping interval): ${JSON.stringify(await keyCensus(sys))}`);
      await sleep((TTL + 2) * 1000);
      expiry.push(`keys ${2 * TTL + HK + 4} s after finishing (2 x TTL + one interval): ${JSON.stringify(await keyCensus(sys))}`);
    } finally {
      await sys.stop();
    }
  }

  console.log(`memory: ${N} finished runs per graph, gateway-sim at zero latency (release_check job 1 s, polled every 0.2 s); load before ${loadBefore}, after ${load()}`);
  console.log('| graph | record B | events B | BullMQ job hash B | share of `completed` zset B | per run B | used_memory delta / run B |');
  for (const l of sizes) console.log(l);
  for (const f of fields) console.log(f);
  for (const [g, b] of Object.entries(perRunTotals)) {
    console.log(`1 M ${g} runs/day with RUN_TTL_SEC=86400 keeps ~1 M runs resident: ${(b * 1e6 / 2 ** 30).toFixed(2)} GiB`);
  }
  console.log(`expiry (RUN_TTL_SEC=${TTL}):`);
  for (const l of expiry) console.log(`  ${l}`);
} finally {
  await admin.quit();
  await server.stop();
}
process.exit(0);
