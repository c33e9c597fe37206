import type { Queue } from 'bullmq';
import { HOUSEKEEPING } from '@sup/contracts';
import type { Logger } from '@sup/logging';

/** How often each worker checks that the housekeeping job scheduler still exists. */
export const SCHEDULER_CHECK_MS = 60_000;

export interface HousekeepingScheduler {
  /** Puts the scheduler back if Redis lost it; true when it had to. */
  check(): Promise<boolean>;
  close(): void;
}

/**
 * The BullMQ job scheduler behind housekeeping (`_housekeeping` on the schedules queue). Every
 * worker upserts it at start-up (BullMQ keeps one, so one job per interval), and checks it every
 * minute: a Redis that lost its data (FLUSHDB, a restart without persistence) also lost the
 * scheduler, and without this check nothing would repair runs again until a worker restarted.
 */
export async function scheduleHousekeeping(queue: Queue, everySec: number, log: Logger, checkMs = SCHEDULER_CHECK_MS): Promise<HousekeepingScheduler> {
  const upsert = () => queue.upsertJobScheduler(HOUSEKEEPING.schedulerId, { every: everySec * 1000 }, {
    name: HOUSEKEEPING.jobName, opts: { removeOnComplete: { count: 10 }, removeOnFail: { count: 50 } },
  });
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
