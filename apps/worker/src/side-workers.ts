import { Worker, type ConnectionOptions, type Job, type Queue } from 'bullmq';
import { HOUSEKEEPING, QUEUES, type RunRecord } from '@sup/contracts';
import type { Logger } from '@sup/logging';
import { bullPrefix, createHousekeepingQueue, type RunQueue } from '@sup/queue';
import type { RedisClient, RunStore } from '@sup/run-store';
import { createScheduleQueue, createTickProcessor, ScheduleStore } from '@sup/schedules';
import { graphs } from '@sup/graphs';
import { housekeeping } from './housekeeping.js';
import { removeLegacyHousekeeping, scheduleHousekeeping } from './housekeeping-scheduler.js';
import { keepLiveFloorSec, repairLiveRuns } from './repair.js';
import { parkOnRefusal, REDIS_RETRY_MS, type RefusalGuard } from './refusals.js';
import { renewableWorker } from './renewable.js';
import { createWebhookProcessor } from './webhooks.js';

export interface SideWorkerDeps {
  bull: ConnectionOptions;
  redis: RedisClient;
  store: RunStore;
  queue: RunQueue;
  webhookQueue: Queue;
  log: Logger;
  onError(err: Error): void;
  /** A run housekeeping marked failed (queues its webhook, as any finished run's). */
  onRunFailed(rec: RunRecord): void;
  /** After each housekeeping pass this process ran (metrics). */
  onHousekeeping?(r: { orphans: number; requeued: number }): void;
  /** Logs their errors, and pauses them while Redis refuses their fetches. */
  refusals: RefusalGuard;
  /** The clock runs are stamped with (schedule ticks' runs) and housekeeping compares their times with: Redis' (RedisClock). */
  now?: () => number;
  env: { KEY_PREFIX: string; RUN_TTL_SEC: number; WEBHOOK_SECRET: string; WEBHOOK_TIMEOUT_MS: number; WEBHOOK_ALLOWED_HOSTS: string[]; WEBHOOK_DENY_PRIVATE?: boolean; HOUSEKEEPING_EVERY_SEC: number };
}

/**
 * The three small queues every worker process also serves: webhooks of finished runs (retried with
 * backoff by BullMQ, delivered by any worker process), schedule ticks (BullMQ's job schedulers
 * emit one tick job per fire time, taken by one worker) and housekeeping (one pass at a time). Each
 * Worker is renewable (renewable.ts): `renew` replaces all three, as the watchdog does when the runs
 * Worker took no job — the outage that wedged its fetch loop may have wedged theirs (they have no
 * watchdog of their own), and the process exit that used to follow restarted them too.
 */
export async function startSideWorkers(d: SideWorkerDeps): Promise<{ close(): Promise<void>; renew(reason: string): Promise<unknown> }> {
  const prefix = bullPrefix(d.env.KEY_PREFIX);
  const now = d.now ?? Date.now;
  const webhookProcessor = createWebhookProcessor({
    store: d.store, log: d.log, secret: d.env.WEBHOOK_SECRET, timeoutMs: d.env.WEBHOOK_TIMEOUT_MS, allowedHosts: d.env.WEBHOOK_ALLOWED_HOSTS, denyPrivate: d.env.WEBHOOK_DENY_PRIVATE, now: Date.now,
  });
  const watched = (queue: string, make: () => Worker) => renewableWorker({
    queue, log: d.log,
    make: () => {
      const w = make();
      d.refusals.watch(w, queue);
      return w;
    },
  });
  const webhookWorker = await watched(QUEUES.webhooks, () => new Worker(QUEUES.webhooks, webhookProcessor, { connection: d.bull, prefix, concurrency: 5 }));

  const scheduleQueue = createScheduleQueue(d.bull, d.env.KEY_PREFIX);
  scheduleQueue.on('error', d.onError);
  const tick = createTickProcessor({
    store: new ScheduleStore(d.redis, d.env.KEY_PREFIX), submit: { store: d.store, queue: d.queue, ttlSec: d.env.RUN_TTL_SEC, now }, graphs, log: d.log, now,
    removeScheduler: (id) => scheduleQueue.removeJobScheduler(id),
  });
  const housekeepingDeps = {
    queues: [d.queue, d.webhookQueue], store: d.store, ttlSec: d.env.RUN_TTL_SEC, log: d.log, now,
    repairRuns: () => repairLiveRuns({
      queue: d.queue, redis: d.redis, store: d.store, log: d.log, ttlSec: d.env.RUN_TTL_SEC, onFailed: d.onRunFailed,
      keepLiveSec: keepLiveFloorSec(d.env.HOUSEKEEPING_EVERY_SEC),
    }, now()),
  };
  const housekeepingPass = async () => {
    try {
      const r = await housekeeping(housekeepingDeps);
      d.onHousekeeping?.(r);
      return r;
    } catch (err) {
      // the failed job keeps the error too, but nobody reads the housekeeping queue's failed list
      d.log.error('housekeeping_failed', { error: err instanceof Error ? err.message : String(err) });
      throw err;
    }
  };
  // a tick Redis refused is parked and redone (fireSchedule claims each fire time once), not lost
  const tickProcessor = parkOnRefusal(async (job: Job) => (job.name === HOUSEKEEPING.jobName ? removeLegacyHousekeeping(scheduleQueue, d.log) : tick(job)), {
    delayMs: REDIS_RETRY_MS, log: d.log, now: Date.now,
    event: 'schedule_redis_retry', fields: (job) => ({ job: job.name, schedule: (job.data as { schedule_id?: string }).schedule_id ?? '-' }),
  });
  const tickWorker = await watched(QUEUES.schedules, () => new Worker(QUEUES.schedules, tickProcessor, { connection: d.bull, prefix, concurrency: 5 }));

  const housekeepingQueue = createHousekeepingQueue(d.bull, d.env.KEY_PREFIX);
  housekeepingQueue.on('error', d.onError);
  // a pass Redis refused fails (housekeeping_failed); the next one comes HOUSEKEEPING_EVERY_SEC later
  const housekeepingWorker = await watched(QUEUES.housekeeping, () => new Worker(QUEUES.housekeeping, housekeepingPass, { connection: d.bull, prefix, concurrency: 1 }));
  await removeLegacyHousekeeping(scheduleQueue, d.log);
  const scheduler = await scheduleHousekeeping(housekeepingQueue, d.env.HOUSEKEEPING_EVERY_SEC, d.log);

  const workers = [webhookWorker, tickWorker, housekeepingWorker];
  return {
    renew: (reason) => Promise.allSettled(workers.map((w) => w.renew(reason))),
    async close() {
      scheduler.close();
      await webhookWorker.close().catch((e: Error) => d.log.error('worker_close_failed', { queue: QUEUES.webhooks, error: e.message }));
      await tickWorker.close().catch((e: Error) => d.log.error('worker_close_failed', { queue: QUEUES.schedules, error: e.message }));
      await housekeepingWorker.close().catch((e: Error) => d.log.error('worker_close_failed', { queue: QUEUES.housekeeping, error: e.message }));
      await scheduleQueue.close().catch(() => undefined);
      await housekeepingQueue.close().catch(() => undefined);
    },
  };
}
