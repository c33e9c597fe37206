import { hostname } from 'node:os';
import { Worker } from 'bullmq';
import { QUEUES } from '@sup/contracts';
import { loadOrExit, WorkerEnv } from '@sup/config';
import { createLogger } from '@sup/logging';
import { createKeys, createRedis, RunStore } from '@sup/run-store';
import { createGatewayClient } from '@sup/gateway-client';
import { bullPrefix, CancelService, createRunQueue, enqueueCompensation } from '@sup/queue';
import { compileGraph, type CompiledGraph } from '@sup/engine';
import { graphs } from '@sup/graphs';
import { CancelWatcher } from './cancels.js';
import { childRuns, gatewayTools } from './adapters.js';
import { createProcessor } from './processor.js';
import { compensate } from './compensate.js';
import { onJobFailed } from './failures.js';

const env = loadOrExit(WorkerEnv);
const log = createLogger({ service: 'worker', level: env.LOG_LEVEL, format: env.LOG_FORMAT });
const onError = (err: Error) => log.error('Redis connection error', { error: err.message });

const redis = createRedis(env.REDIS_URL, { name: 'worker-store', onError });
const bull = createRedis(env.REDIS_URL, { name: 'worker-bull', onError, forBullmq: true });
const sub = createRedis(env.REDIS_URL, { name: 'worker-cancel', onError, forBullmq: true });
const store = new RunStore({ redis, prefix: env.KEY_PREFIX, ttlSec: env.RUN_TTL_SEC });
const queue = createRunQueue(bull, env.KEY_PREFIX);
const gateway = createGatewayClient({
  baseUrl: env.GATEWAY_URL, apiKey: env.SUPERVISOR_API_KEY, timeoutMs: env.GATEWAY_TIMEOUT_MS, retries: env.GATEWAY_RETRIES, logger: log,
});
const compiled = new Map<string, CompiledGraph>(Object.values(graphs).map((g) => [g.name, compileGraph(g)]));
const keys = createKeys(env.KEY_PREFIX);
const cancels = await CancelWatcher.start(sub, keys.cancelChannel);
const cancelService = new CancelService({ store, queue, publisher: redis, channel: keys.cancelChannel, log, ttlSec: env.RUN_TTL_SEC });
const tools = (runId: string, agentId: string) => gatewayTools(gateway, runId, agentId);
const runs = (runId: string, agentId: string) => childRuns({ store, queue, ttlSec: env.RUN_TTL_SEC }, cancelService, { runId, agentId });
const graph = (name: string) => compiled.get(name);

let closing = false;
const processor = createProcessor({
  store, log, cancels,
  graph, tools, runs,
  compensateLater: (rec) => enqueueCompensation(queue, { run_id: rec.run_id, graph: rec.graph }, env.RUN_TTL_SEC),
  compensate: (runId) => compensate({ store, log, graph, tools, runs, timeoutMs: env.GATEWAY_TIMEOUT_MS }, runId),
  settings: { jobPollIntervalMs: Math.round(env.JOB_POLL_INTERVAL_SEC * 1000) },
  workerId: `${hostname()}:${process.pid}`,
  isClosing: () => closing,
  now: Date.now,
});

const worker = new Worker(QUEUES.runs, processor, {
  connection: bull,
  prefix: bullPrefix(env.KEY_PREFIX),
  concurrency: env.WORKER_CONCURRENCY,
  lockDuration: env.WORKER_LOCK_MS,
  stalledInterval: env.WORKER_LOCK_MS,
  // a run that outlives many dead workers must still never be failed by stall detection
  maxStalledCount: 1_000,
});
worker.on('failed', (job, err) => void onJobFailed(store, log, job, err));
worker.on('error', (err) => log.error('worker_error', { error: err.message }));
await worker.waitUntilReady();
log.info('worker_ready', { pid: process.pid, concurrency: env.WORKER_CONCURRENCY, gateway_url: env.GATEWAY_URL, graphs: [...compiled.keys()].join(',') });

let stopping: Promise<void> | undefined;
function shutdown(signal: string): Promise<void> {
  stopping ??= (async () => {
    closing = true;
    log.info('worker_stopping', { signal });
    // waits for in-flight nodes; the processor then hands each run back to the queue
    await worker.close().catch((e: Error) => log.error('worker_close_failed', { error: e.message }));
    await Promise.allSettled([cancels.close(), queue.close()]);
    await Promise.allSettled([redis.quit(), bull.quit()]);
    log.info('worker_stopped', { signal });
    process.exit(0);
  })();
  return stopping;
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
