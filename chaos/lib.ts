/**
 * Shared by the chaos scripts: a throwaway redis-server per script (nobody else's traffic, and it
 * may be killed at will), the e2e harness on top of it, a paced load generator, run accounting and
 * the gateway's view of duplicates. Every script prints one summary line
 *   runs=N succeeded=N lost=0 duplicated_nodes=K ...
 * and exits non-zero when a check failed.
 */
import { Redis } from 'ioredis';
import type { RunEvent } from '@sup/contracts';
import { RunStore } from '@sup/run-store';
import { freePort, RedisServer } from '../bench/lib/redis-server.js';
import { load, say, sleep, startSystem, systemOn } from '../bench/lib/util.js';

export { load, say, sleep, startSystem };
export const SHORT = process.argv.includes('--short');
export const TERMINAL = new Set(['succeeded', 'failed', 'cancelled']);

export async function chaosSystem(opts: { aof?: boolean } = {}) {
  const server = await RedisServer.start({ aof: opts.aof ?? false });
  const System = await systemOn(server.url);
  const admin = new Redis(server.url, { maxRetriesPerRequest: null });
  admin.on('error', () => undefined);
  return { server, System, admin };
}
export type Sys = InstanceType<Awaited<ReturnType<typeof systemOn>>>;

/** Starts `n` workers, each serving /healthz on a port of its own; their /healthz URLs. */
export async function workersWithHealth(sys: Sys, n: number): Promise<string[]> {
  const urls: string[] = [];
  for (let i = 0; i < n; i++) {
    const port = await freePort();
    await sys.startWorker({ WORKER_METRICS_PORT: String(port) });
    urls.push(`http://127.0.0.1:${port}/healthz`);
  }
  return urls;
}

/** An HTTP status, 0 when there was no answer within 2 s. */
export const httpStatus = (url: string): Promise<number> => fetch(url, { signal: AbortSignal.timeout(2_000) }).then((r) => r.status).catch(() => 0);

export interface Load {
  /** Run ids the API accepted (answered 202). */
  accepted: string[];
  /** Submissions answered otherwise, or that got no answer at all. */
  rejected: Record<string, number>;
  done: Promise<void>;
}

/**
 * Submits `n` runs at `perSec`, one after another on a timer (bounded: n submissions, then stops);
 * `graph` may name the graph per submission.
 */
export function paced(sys: Sys, graph: string | ((i: number) => string), input: (i: number) => Record<string, unknown>, n: number, perSec: number): Load {
  const accepted: string[] = [];
  const rejected: Record<string, number> = {};
  const inflight: Promise<void>[] = [];
  const done = (async () => {
    const t0 = Date.now();
    for (let i = 0; i < n; i++) {
      const due = t0 + (i * 1000) / perSec;
      if (due > Date.now()) await sleep(due - Date.now());
      inflight.push((async () => {
        try {
          const res = await fetch(`${sys.apiUrl}/v1/graphs/${typeof graph === 'string' ? graph : graph(i)}/runs`, {
            method: 'POST', headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ agent_id: 'chaos', input: input(i) }), signal: AbortSignal.timeout(10_000),
          });
          const body = (await res.json().catch(() => ({}))) as { run_id?: string };
          if (res.status === 202 && body.run_id) accepted.push(body.run_id);
          else rejected[res.status] = (rejected[res.status] ?? 0) + 1;
        } catch (err) {
          const k = (err as Error).name === 'TimeoutError' ? 'timeout' : 'no_answer';
          rejected[k] = (rejected[k] ?? 0) + 1;
        }
      })());
    }
    await Promise.all(inflight);
  })();
  return { accepted, rejected, done };
}

export interface Outcome {
  statuses: Record<string, string>;
  counts: Record<string, number>;
  /** Accepted runs whose record is gone or that never reached a final status. */
  lost: string[];
}

/** Waits (bounded) until every run is final; reads records straight from Redis. */
export async function settle(admin: Redis, prefix: string, ids: string[], timeoutMs: number): Promise<Outcome> {
  const deadline = Date.now() + timeoutMs;
  let statuses: Record<string, string> = {};
  for (;;) {
    statuses = {};
    for (let i = 0; i < ids.length; i += 500) {
      const chunk = ids.slice(i, i + 500);
      const raw = await admin.mget(chunk.map((id) => `${prefix}run:${id}`));
      chunk.forEach((id, j) => {
        const r = raw[j];
        statuses[id] = r ? ((JSON.parse(r) as { status?: string }).status ?? 'corrupt') : 'missing';
      });
    }
    const open = Object.values(statuses).filter((s) => !TERMINAL.has(s)).length;
    if (open === 0 || Date.now() > deadline) break;
    await sleep(250);
  }
  const counts: Record<string, number> = {};
  for (const s of Object.values(statuses)) counts[s] = (counts[s] ?? 0) + 1;
  return { statuses, counts, lost: ids.filter((id) => !TERMINAL.has(statuses[id]!)) };
}

/** Each run's events in order, read as the API reads them (RunStore.events; a stream keeps ≤ ~10 000). */
export async function runEvents(admin: Redis, prefix: string, ids: readonly string[]): Promise<RunEvent[][]> {
  const store = new RunStore({ redis: admin, prefix, ttlSec: 1 }); // reads only: the TTL is never used
  return Promise.all(ids.map((id) => store.events(id, { limit: 10_000 })));
}

/** The most takeovers in a row any run went through (`run_resumed` … `takeovers`); CRASH_LOOP_LIMIT (default 5) fails a run there. */
export function maxTakeovers(events: RunEvent[][]): number {
  return Math.max(0, ...events.flat().map((e) => (e.type === 'run_resumed' ? Number(e.data?.takeovers ?? 0) : 0)));
}

/**
 * Records of runs the API did not accept (not in `accepted`): create.lua ran, then the enqueue and
 * its rollback both failed. As `id=status`.
 */
export async function unacceptedRecords(admin: Redis, prefix: string, accepted: readonly string[]): Promise<string[]> {
  const acceptedSet = new Set(accepted);
  const out: string[] = [];
  let cursor = '0';
  do {
    const [c, keys] = await admin.scan(cursor, 'MATCH', `${prefix}run:gr_*`, 'COUNT', 1000);
    cursor = c;
    for (const k of keys) {
      const id = k.slice(`${prefix}run:`.length);
      if (id.includes(':') || acceptedSet.has(id)) continue;
      out.push(`${id}=${(JSON.parse((await admin.get(k)) ?? '{}') as { status?: string }).status}`);
    }
  } while (cursor !== '0');
  return out;
}

export interface SimCall {
  seq: number; run_id: string; node: string; tool: string; action: string; idempotency_key: string;
  duplicate: boolean; executed: boolean; aborted: boolean; status: number | null; outcome: string;
}

export async function simCalls(sys: Sys): Promise<SimCall[]> {
  return (await sys.simApi<{ calls: SimCall[] }>('GET', '/_sim/calls')).calls;
}

const SIDE_EFFECTS = new Set(['start_task', 'cancel_task', 'attach_artifact', 'append_event']);

/**
 * The gateway's view of re-executed nodes. A node that ran again after a crash sends the same
 * idempotency keys (`<run>:<node>:<visit>.<park>:<call>`); the gateway marks a call whose key it had
 * already executed `duplicate:true` (a side effect is replayed, not repeated; a read is recomputed).
 *   duplicatedNodes  (run, node) pairs with at least one duplicate call = nodes executed twice
 *   dedupKeys        the idempotency keys of those duplicate calls
 *   repeatedEffects  side-effecting calls executed twice under one key (must be 0)
 *   revisited        (run, node) pairs called under two different visits (a finished node re-run
 *                    with fresh keys: must be 0 for a linear graph)
 */
export function duplicates(calls: SimCall[], runIds: Set<string>) {
  const mine = calls.filter((c) => runIds.has(c.run_id));
  const dupNodes = new Set<string>();
  const dedupKeys = new Set<string>();
  const executedByKey = new Map<string, number>();
  const visits = new Map<string, Set<string>>();
  for (const c of mine) {
    const pair = `${c.run_id}/${c.node}`;
    if (c.duplicate) {
      dupNodes.add(pair);
      dedupKeys.add(`${c.tool}.${c.action} ${c.idempotency_key}`);
    }
    if (c.executed && !c.duplicate && SIDE_EFFECTS.has(c.action)) {
      const k = `${c.tool}.${c.action}|${c.idempotency_key}`;
      executedByKey.set(k, (executedByKey.get(k) ?? 0) + 1);
    }
    const visit = c.idempotency_key.slice(c.run_id.length + c.node.length + 2).split('.')[0] ?? '';
    if (!visits.has(pair)) visits.set(pair, new Set());
    visits.get(pair)!.add(visit);
  }
  return {
    calls: mine.length,
    aborted: mine.filter((c) => c.aborted).length,
    duplicatedNodes: [...dupNodes],
    dedupKeys: [...dedupKeys],
    repeatedEffects: [...executedByKey.values()].filter((n) => n > 1).length,
    revisited: [...visits.values()].filter((v) => v.size > 1).length,
  };
}

/** Prints the summary line (last line of output) and exits: 0 only when every check held. */
export function finish(fields: Record<string, string | number>, failures: string[]): never {
  for (const f of failures) console.log(`CHECK FAILED: ${f}`);
  console.log(Object.entries(fields).map(([k, v]) => `${k}=${v}`).join(' ') + ` result=${failures.length ? 'FAIL' : 'ok'}`);
  process.exit(failures.length ? 1 : 0);
}

/** A hard upper bound on the whole script, so it always stops by itself. */
export function watchdog(ms: number): void {
  setTimeout(() => {
    console.log(`CHECK FAILED: chaos script exceeded its ${ms / 1000} s bound`);
    process.exit(2);
  }, ms).unref();
}

