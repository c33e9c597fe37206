import { hostname } from 'node:os';
import { Worker } from 'bullmq';
import { QUEUES, type RunRecord } from '@sup/contracts';
import { loadOrExit, redactUrl, WorkerEnv } from '@sup/config';
import { createLogger, redisConnectionErrors } from '@sup/logging';
import { connectRedis, createKeys, keepClockSynced, RedisClock, RunStore } from '@sup/run-store';
import { createGatewayClient } from '@sup/gateway-client';
import { bullPrefix, CancelService, createRunQueue, createWebhookQueue, enqueueCompensation, enqueueWebhook } from '@sup/queue';
import { compileGraph, type CompiledGraph } from '@sup/engine';
import { graphs } from '@sup/graphs';
import { CancelWatcher } from './cancels.js';
import { cancelUnfinishedChildren, childRuns, gatewayTools, type ParentCancel } from './adapters.js';
import { createProcessor } from './processor.js';
import { compensate } from './compensate.js';
import { onJobFailed } from './failures.js';
import { createWorkerMetrics, redisHealth, serveMetrics } from './metrics.js';
import { allHealthy, createWatchdog } from './watchdog.js';
import { queueThrottle } from './throttle.js';
import { startSideWorkers } from './side-workers.js';
import { createRefusalGuard } from './refusals.js';

import { renewableWorker } from './renewable.js';

const env = loadOrExit(WorkerEnv);
const log = createLogger({ service: 'worker', level: env.LOG_LEVEL, format: env.LOG_FORMAT });
const onError = redisConnectionErrors(log);

// standalone (REDIS_URL), Cluster (REDIS_CLUSTER_NODES) or Sentinel (REDIS_SENTINELS) by configuration
// the store and BullMQ connections carry the commands of every concurrent job pass: one socket write per turn
const redis = connectRedis(env, { name: 'worker-store', onError, coalesceWrites: true });
const bull = connectRedis(env, { name: 'worker-bull', onError, forBullmq: true, coalesceWrites: true });
const sub = connectRedis(env, { name: 'worker-cancel', onError, forBullmq: true });
const store = new RunStore({ redis, prefix: env.KEY_PREFIX, ttlSec: env.RUN_TTL_SEC, maxRecordBytes: env.RUN_RECORD_MAX_BYTES });
// runs are stamped on Redis' clock and nodes read it: a node's stored time (release_check's first
// poll) is read by whichever worker polls next, and records written by hosts whose clocks disagree
// still order (BullMQ's own delays stay on this host's clock)
const clock = new RedisClock(redis);
const stopClockSync = await keepClockSynced(clock, log);
const queue = createRunQueue(bull, env.KEY_PREFIX);
const webhookQueue = createWebhookQueue(bull, env.KEY_PREFIX);
// BullMQ reports connection trouble as 'error' events; without a listener it prints raw stacks
for (const q of [queue, webhookQueue]) q.on('error', onError);
// a run job awaits this after its final commit (afterFinish below), and so does a cancel of a child
// run (CancelService keeps the run job when it fails, so the job's own pass queues it later)
const queueWebhook = async (rec: RunRecord): Promise<void> => void (await enqueueWebhook(webhookQueue, rec, env.RUN_TTL_SEC));
// a run marked failed after its job ran out of attempts has no job left to retry: best effort, logged
const runFinished = (rec: RunRecord): void =>
  void queueWebhook(rec).catch((e: Error) => log.error('webhook_enqueue_failed', { run: rec.run_id, error: e.message }));
const metrics = createWorkerMetrics();
const keys = createKeys(env.KEY_PREFIX);
// Redis refusing writes (out of memory, read-only): pause fetching instead of BullMQ's tight retry loop
const refusals = createRefusalGuard({ log, probe: () => store.probeWrite() });
// a key of this deployment: on a Cluster a bare PING answers from any node, even while the master of
// the deployment's slot is down
const slotPing = (c: typeof redis) => ({ get status() { return c.status; }, ping: () => c.exists(keys.live) });
// a connection that is 'ready' but never answers, or a Worker that stopped taking jobs: unhealthy at
// once, exit 1 after a minute so the supervisor restarts this process (chaos/redis-restart.ts)
const watchdog = createWatchdog({
  conns: { store: slotPing(redis), bull: slotPing(bull) }, isRunning: () => runWorker.current().isRunning(), refusing: refusals.refusing, concurrency: env.WORKER_CONCURRENCY,
  waiting: async () => ((await queue.isPaused()) ? 0 : Object.values(await queue.getJobCounts('wait', 'prioritized')).reduce((a, b) => a + b, 0)),
  // a rate limit or global concurrency on `runs` (bull-board) holds jobs back on purpose
  throttled: () => queueThrottle(queue),
  isClosing: () => closing, log,
  // a Worker that takes no job gets a fresh one (a new blocking connection) before the exit above;
  // the side Workers too, which the same outage may have wedged and nothing else watches
  recover: (reason) => Promise.all([runWorker.renew(reason), sideWorkers.renew(reason)]),
});
// bound before any job is taken, so a taken port stops start-up with one line instead of running unobserved
const metricsServer = env.WORKER_METRICS_PORT === 0 ? undefined : await serveMetrics({
  port: env.WORKER_METRICS_PORT, registry: metrics.registry, health: allHealthy(redisHealth({ store: redis, bull, cancel: sub }), () => watchdog.health()),
}).catch((e: Error) => {
  log.error('worker_metrics_failed', { port: env.WORKER_METRICS_PORT, error: e.message });
  process.exit(1);
});
if (metricsServer) log.info('worker_metrics_listening', { port: metricsServer.port });
const gateway = createGatewayClient({
  baseUrl: env.GATEWAY_URL, apiKey: env.SUPERVISOR_API_KEY, timeoutMs: env.GATEWAY_TIMEOUT_MS, retries: env.GATEWAY_RETRIES, logger: log,
  maxResponseBytes: env.GATEWAY_MAX_RESPONSE_BYTES,
  metrics: metrics.gateway,
});
const compiled = new Map<string, CompiledGraph>(Object.values(graphs).map((g) => [g.name, compileGraph(g)]));
const cancels = await CancelWatcher.start(sub, keys.cancelChannel);
const cancelService = new CancelService({ store, queue, publisher: redis, channel: keys.cancelChannel, log, ttlSec: env.RUN_TTL_SEC, onFinished: queueWebhook, now: clock.now });
const tools = (runId: string, agentId: string) => gatewayTools(gateway, runId, agentId);
const cancelChildren = async (runId: string, reason: string) => {
  const n = await cancelUnfinishedChildren(store, cancelService, runId, reason);
  if (n > 0) log.warn('child_runs_cancelled', { run: runId, children: n, reason });
};
const runs = (runId: string, agentId: string, signal?: ParentCancel) => childRuns({ store, queue, ttlSec: env.RUN_TTL_SEC, now: clock.now }, cancelService, { runId, agentId }, signal);
const graph = (name: string) => compiled.get(name);

let closing = false;
const processor = createProcessor({
  store, log, cancels,
  graph, tools, runs,
  compensateLater: (rec) => enqueueCompensation(queue, { run_id: rec.run_id, graph: rec.graph }, env.RUN_TTL_SEC),
  cancelChildren,
  compensate: (runId, last) => compensate({ store, log, graph, tools, runs, timeoutMs: env.GATEWAY_TIMEOUT_MS }, runId, last),
  settings: { jobPollIntervalMs: Math.round(env.JOB_POLL_INTERVAL_SEC * 1000) },
  workerId: `${hostname()}:${process.pid}`,
  crashLoopLimit: env.CRASH_LOOP_LIMIT,
  isClosing: () => closing,
  now: Date.now,
  recordNow: clock.now,
  onStep: metrics.onStep,
  onFinished: metrics.onFinished,
  onTakeover: metrics.onTakeover,
  // awaited: a failed enqueue fails the job attempt and the retry queues the webhook again
  afterFinish: queueWebhook,
});

const tracked = watchdog.track(processor);
// renewable: the watchdog replaces a Worker whose fetch loop wedged (renewable.ts) instead of exiting
const runWorker = await renewableWorker({
  queue: QUEUES.runs, log,
  make: () => {
    const w = new Worker(QUEUES.runs, tracked, {
      connection: bull,
      prefix: bullPrefix(env.KEY_PREFIX),
      concurrency: env.WORKER_CONCURRENCY,
      lockDuration: env.WORKER_LOCK_MS,
      stalledInterval: env.WORKER_LOCK_MS,
      // a run that outlives many dead workers must still never be failed by stall detection
      maxStalledCount: 1_000,
    });
    w.on('failed', (job, err) => void onJobFailed(store, log, job, err, runFinished));
    refusals.watch(w, QUEUES.runs);
    return w;
  },
});

// webhooks and schedule ticks
const sideWorkers = await startSideWorkers({ bull, redis, store, queue, webhookQueue, log, onError, onRunFailed: runFinished, onHousekeeping: metrics.onHousekeeping, refusals, env, now: clock.now });
log.info('worker_ready', { pid: process.pid, concurrency: env.WORKER_CONCURRENCY, gateway_url: redactUrl(env.GATEWAY_URL), graphs: [...compiled.keys()].join(',') });
watchdog.start();

let stopping: Promise<void> | undefined;
function shutdown(signal: string): Promise<void> {
  stopping ??= (async () => {
    closing = true;
    refusals.stop();
    stopClockSync();
    log.info('worker_stopping', { signal });
    // the closes below need Redis: with Redis gone they would wait forever. Runs still held move to
    // other workers by stall detection, as after a kill.
    setTimeout(() => {
      log.error('worker_stop_timeout', { signal, after_ms: env.WORKER_STOP_TIMEOUT_MS });
      process.exit(1);
    }, env.WORKER_STOP_TIMEOUT_MS).unref();
    // waits for in-flight nodes; the processor then hands each run back to the queue
    await runWorker.close().catch((e: Error) => log.error('worker_close_failed', { error: e.message }));
    await sideWorkers.close();
    await Promise.allSettled([cancels.close(), queue.close(), webhookQueue.close()]);
    await Promise.allSettled([redis.quit(), bull.quit()]);
    metricsServer?.close();
    log.info('worker_stopped', { signal });
    process.exit(0);
  })();
  return stopping;
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
// started by apps/launcher (an IPC channel): its end, even by SIGKILL, stops this process as SIGTERM would
if (process.send) process.on('disconnect', () => void shutdown('launcher_gone'));
