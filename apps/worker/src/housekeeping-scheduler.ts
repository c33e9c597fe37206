import { HOUSEKEEPING } from '@sup/contracts';
import type { Logger } from '@sup/logging';
import type { HousekeepingQueue } from '@sup/queue';
import type { ScheduleQueue } from '@sup/schedules';

/** How often each worker checks that the housekeeping job scheduler still exists. */
export const HOUSEKEEPING_CHECK_MS = 60_000;

export interface HousekeepingScheduler {
  /** Puts the scheduler back if Redis lost it; true when it had to. */
  check(): Promise<boolean>;
  close(): void;
}

/**
 * The BullMQ job scheduler behind housekeeping (`housekeeping` on queue `housekeeping`). Every
 * worker upserts it at start-up (BullMQ keeps one, so one job per interval) with the queue's global
 * concurrency at 1 (so two passes never run at once, on any number of workers), and checks it every
 * minute: a Redis that lost its data (FLUSHDB, a restart without persistence) also lost the
 * scheduler, and without this check nothing would repair runs again until a worker restarted.
 */
export async function scheduleHousekeeping(queue: HousekeepingQueue, everySec: number, log: Logger, checkMs = HOUSEKEEPING_CHECK_MS): Promise<HousekeepingScheduler> {
  const upsert = async () => {
    // one scheduler for the deployment: the worker started last sets its interval for all
    const before = (await queue.getJobScheduler(HOUSEKEEPING.schedulerId))?.every;
    if (before && before !== everySec * 1000) {
      log.warn('housekeeping_interval_changed', { from_sec: before / 1000, to_sec: everySec, why: 'HOUSEKEEPING_EVERY_SEC of the worker started last applies to every worker' });
    }
    await queue.setGlobalConcurrency(1);
    await queue.upsertJobScheduler(HOUSEKEEPING.schedulerId, { every: everySec * 1000 }, {
      name: HOUSEKEEPING.jobName, opts: { removeOnComplete: { count: 10 }, removeOnFail: { count: 50 } },
    });
  };
  await upsert();
  const check = async (): Promise<boolean> => {
    if (await queue.getJobScheduler(HOUSEKEEPING.schedulerId)) return false;
    await upsert();
    log.warn('housekeeping_scheduler_restored', { scheduler: HOUSEKEEPING.schedulerId, every_sec: everySec });
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
