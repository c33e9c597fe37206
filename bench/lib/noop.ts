/**
 * The production processor (apps/worker/src/processor.ts) on a real BullMQ Worker, serving only
 * no-op graphs (makeNoopGraph: nodes that call no tools). Bench-only: the no-op graphs are never
 * registered in @sup/graphs, so the API cannot start them; runs are submitted with submitRun.
 */
import { hostname } from 'node:os';
import { Worker } from 'bullmq';
import { QUEUES } from '@sup/contracts';
import { compileGraph, type CompiledGraph } from '@sup/engine';
import { makeNoopGraph } from '@sup/graphs';
import { createLogger } from '@sup/logging';
import { bullPrefix, createRunQueue, submitRun, type RunQueue } from '@sup/queue';
import { createKeys, createRedis, RunStore } from '@sup/run-store';
import { CancelWatcher } from '../../apps/worker/src/cancels.js';
import { createWorkerMetrics } from '../../apps/worker/src/metrics.js';
import { createProcessor } from '../../apps/worker/src/processor.js';

export const NOOP_GRAPHS = { noop1: makeNoopGraph('noop1', 1), noop8: makeNoopGraph('noop8', 8) };
export type NoopGraph = keyof typeof NOOP_GRAPHS;

export interface NoopWorkerOptions {
  url: string;
  prefix: string;
  concurrency: number;
  ttlSec?: number;
  logLevel?: string;
  lockMs?: number;
  autorun?: boolean;
  /** Reference: the same Worker with a processor that returns at once (raw BullMQ cost per job). */
  raw?: boolean;
}

export interface NoopWorker {
  worker: Worker;
  store: RunStore;
  queue: RunQueue;
  close(): Promise<void>;
}

/**
 * Same connections, Worker options and step/finish hooks as apps/worker/src/main.ts, minus what a
 * no-op run never touches (gateway client, webhook and schedule workers, metrics HTTP server).
 */
export async function startNoopWorker(o: NoopWorkerOptions): Promise<NoopWorker> {
  const ttlSec = o.ttlSec ?? 86_400;
  const log = createLogger({ service: 'worker', level: (o.logLevel ?? 'warn') as 'info', format: 'text' });
  const onError = (err: Error) => log.error('Redis connection error', { error: err.message });
  // as main.ts: one socket write per turn on the store and BullMQ connections (BENCH_NO_COALESCE=1:
  // one per command, to measure what that is worth)
  const coalesce = process.env.BENCH_NO_COALESCE !== '1';
  const redis = createRedis(o.url, { name: 'worker-store', onError, coalesceWrites: coalesce });
  const bull = createRedis(o.url, { name: 'worker-bull', onError, forBullmq: true, coalesceWrites: coalesce });
  const sub = createRedis(o.url, { name: 'worker-cancel', onError, forBullmq: true });
  const store = new RunStore({ redis, prefix: o.prefix, ttlSec });
  const queue = createRunQueue(bull, o.prefix);
  const compiled = new Map<string, CompiledGraph>(Object.values(NOOP_GRAPHS).map((g) => [g.name, compileGraph(g)]));
  const cancels = await CancelWatcher.start(sub, createKeys(o.prefix).cancelChannel);
  // the processor builds the ports for every step; a no-op node never calls them
  const never = (what: string) => async () => { throw new Error(`no-op graphs use no ${what}`); };
  // the production worker observes every step and finish in prom-client histograms: same CPU here
  const metrics = createWorkerMetrics();
  let closing = false;
  const processor = createProcessor({
    store, log, cancels,
    graph: (name) => compiled.get(name),
    tools: () => never('tools'),
    runs: () => ({ start: never('child runs'), get: never('child runs'), cancel: never('child runs'), unfinished: never('child runs') }),
    compensateLater: async () => undefined,
    compensate: async () => 'none',
    settings: { jobPollIntervalMs: 3_000 },
    workerId: `${hostname()}:${process.pid}`,
    isClosing: () => closing,
    now: Date.now,
    onStep: metrics.onStep,
    onFinished: metrics.onFinished,
  });
  const lockMs = o.lockMs ?? 30_000;
  const worker = new Worker(QUEUES.runs, o.raw ? async () => 'raw' : processor, {
    connection: bull, prefix: bullPrefix(o.prefix), concurrency: o.concurrency,
    lockDuration: lockMs, stalledInterval: lockMs, maxStalledCount: 1_000, autorun: o.autorun ?? true,
  });
  worker.on('error', (err) => log.error('worker_error', { error: err.message }));
  await worker.waitUntilReady();
  return {
    worker, store, queue,
    async close() {
      closing = true;
      await worker.close();
      await Promise.allSettled([cancels.close(), queue.close()]);
      await Promise.allSettled([redis.quit(), bull.quit()]);
    },
  };
}

/** Submits `n` runs of a no-op graph the way the API does (create.lua + queue.add), `parallel` at a time. */
export async function submitNoop(deps: { store: RunStore; queue: RunQueue; ttlSec?: number }, graph: NoopGraph, n: number, parallel = 50): Promise<string[]> {
  const ids: string[] = [];
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(parallel, n) }, async () => {
    while (next < n) {
      next++;
      const { record } = await submitRun({ store: deps.store, queue: deps.queue, ttlSec: deps.ttlSec ?? 86_400 }, { graph, agentId: 'bench', input: {} });
      ids.push(record.run_id);
    }
  }));
  return ids;
}
