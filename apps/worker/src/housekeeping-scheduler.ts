import { HOUSEKEEPING } from '@sup/contracts';
import type { Logger } from '@sup/logging';
import type { HousekeepingQueue } from '@sup/queue';
import type { ScheduleQueue } from '@sup/schedules';

/** How often each worker checks that the housekeeping job scheduler still exists and is as set. */
export const HOUSEKEEPING_CHECK_MS = 60_000;

export interface HousekeepingScheduler {
  /** Puts the scheduler back if Redis lost it, or its interval or the queue's concurrency back if they were changed; true when it had to. */
  check(): Promise<boolean>;
  close(): void;
}

/**
 * The BullMQ job scheduler behind housekeeping (`housekeeping` on queue `housekeeping`). Every
 * worker upserts it at start-up (BullMQ keeps one, so one job per interval) with the queue's global
 * concurrency at 1 (so two passes never run at once, on any number of workers), and checks it every
 * minute: a Redis that lost its data (FLUSHDB, a restart without persistence) also lost the
 * scheduler, and without this check nothing would repair runs again until a worker restarted. The
 * check also puts back an interval or a concurrency changed outside the workers (bull-board's
 * scheduler edit or concurrency, /admin/queues): an hour's interval or concurrency 0 silently
 * disabled repairs. The deployment's interval is the one the worker started last set (its
 * HOUSEKEEPING_EVERY_SEC, kept beside the queue), so workers with different settings do not fight.
 */
export async function scheduleHousekeeping(queue: HousekeepingQueue, everySec: number, log: Logger, checkMs = HOUSEKEEPING_CHECK_MS): Promise<HousekeepingScheduler> {
  const client = await queue.getBackend().client;
  // the interval the worker started last set, under the queue's keys (same slot; gone with them)
  const intervalKey = queue.toKey('sup:every_ms');
  const upsert = async (everyMs: number) => {
    await queue.setGlobalConcurrency(1);
    await queue.upsertJobScheduler(HOUSEKEEPING.schedulerId, { every: everyMs }, {
      name: HOUSEKEEPING.jobName, opts: { removeOnComplete: { count: 10 }, removeOnFail: { count: 50 } },
    });
  };
  // one scheduler for the deployment: the worker started last sets its interval for all
  const before = (await queue.getJobScheduler(HOUSEKEEPING.schedulerId))?.every;
  if (before && before !== everySec * 1000) {
    log.warn('housekeeping_interval_changed', { from_sec: before / 1000, to_sec: everySec, why: 'HOUSEKEEPING_EVERY_SEC of the worker started last applies to every worker' });
  }
  await client.set(intervalKey, String(everySec * 1000));
  await upsert(everySec * 1000);

  const check = async (): Promise<boolean> => {
    const [found, concurrency, set] = await Promise.all([
      queue.getJobScheduler(HOUSEKEEPING.schedulerId), queue.getGlobalConcurrency(), client.get(intervalKey),
    ]);
    // a Redis that lost the scheduler lost the interval too: this worker's own
    const everyMs = Number(set) > 0 ? Number(set) : everySec * 1000;
    if (!found) {
      await client.set(intervalKey, String(everyMs));
      await upsert(everyMs);
      log.warn('housekeeping_scheduler_restored', { scheduler: HOUSEKEEPING.schedulerId, every_sec: everyMs / 1000 });
      return true;
    }
    if (found.every === everyMs && !found.pattern && concurrency === 1) return false;
    await upsert(everyMs);
    log.warn('housekeeping_scheduler_repaired', {
      scheduler: HOUSEKEEPING.schedulerId, every_sec: everyMs / 1000, concurrency: 1,
      found: `${found.pattern ? `pattern ${found.pattern}` : `every ${(found.every ?? 0) / 1000} s`}, concurrency ${concurrency ?? 'unlimited'}`,
      why: 'changed outside the workers (bull-board?): HOUSEKEEPING_EVERY_SEC of the worker started last and one pass at a time apply',
    });
    return true;
  };
  const timer = setInterval(() => {
    // Redis down: the next check tries again
    check().catch((err: Error) => log.debug('housekeeping_scheduler_check_failed', { error: err.message }));
  }, checkMs);
  timer.unref();
  return { check, close: () => clearInterval(timer) };
}

/**
 * Housekeeping rode on queue `schedules` (scheduler `_housekeeping`) before it had a queue of its
 * own. A worker of that version, still running during a rolling upgrade, puts it back there every
 * minute; each worker of this version removes it at start-up and whenever one of its jobs arrives.
 */
export async function removeLegacyHousekeeping(schedules: ScheduleQueue, log: Logger): Promise<boolean> {
  const removed = await schedules.removeJobScheduler(HOUSEKEEPING.legacySchedulerId);
  if (removed) log.info('housekeeping_legacy_scheduler_removed', { queue: schedules.name, scheduler: HOUSEKEEPING.legacySchedulerId });
  return removed;
}
