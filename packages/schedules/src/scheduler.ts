import { Queue, type ConnectionOptions, type JobSchedulerJson, type RepeatOptions } from 'bullmq';
import { QUEUES, TICK_JOB_NAME, type TickJobData } from '@sup/contracts';
import { bullPrefix } from '@sup/queue';
import type { Schedule } from './schema.js';

export type ScheduleQueue = Queue<TickJobData, unknown, string>;

/** Queue `schedules`, beside `runs` under the same BullMQ prefix (one Cluster slot with a hash tag). */
export function createScheduleQueue(connection: ConnectionOptions, keyPrefix: string): ScheduleQueue {
  return new Queue<TickJobData, unknown, string>(QUEUES.schedules, { connection, prefix: bullPrefix(keyPrefix) });
}

export function repeatOf(s: Pick<Schedule, 'cron' | 'every_sec' | 'tz'>): Omit<RepeatOptions, 'key'> {
  return s.every_sec !== undefined ? { every: s.every_sec * 1000 } : { pattern: s.cron!, ...(s.tz ? { tz: s.tz } : {}) };
}

const sameRepeat = (j: JobSchedulerJson, r: Omit<RepeatOptions, 'key'>) =>
  j.every === r.every && (j.pattern ?? undefined) === r.pattern && (j.tz ?? undefined) === r.tz;

/**
 * Makes BullMQ's job scheduler match the schedule: one scheduler per schedule (id = schedule id)
 * emitting `tick` jobs that carry only the id, so the tick always reads the current definition.
 * An unchanged scheduler is left alone: re-upserting it would be harmless but is a write per boot.
 */
export async function syncScheduler(queue: ScheduleQueue, s: Schedule): Promise<'upserted' | 'unchanged' | 'removed'> {
  if (!s.enabled) {
    await queue.removeJobScheduler(s.id);
    return 'removed';
  }
  const repeat = repeatOf(s);
  const existing = await queue.getJobScheduler(s.id);
  if (existing && sameRepeat(existing, repeat)) return 'unchanged';
  await queue.upsertJobScheduler(s.id, repeat, {
    name: TICK_JOB_NAME,
    data: { schedule_id: s.id },
    // a tick that meets another tick of the same schedule mid-submit ("busy") is retried shortly
    opts: { attempts: 5, backoff: { type: 'fixed', delay: 500 }, removeOnComplete: { count: 100 }, removeOnFail: { count: 500 } },
  });
  return 'upserted';
}

/** The fire time a tick job stands for: BullMQ names scheduler jobs `repeat:<scheduler id>:<due ms>`. */
export function tickTimeOf(job: { id?: string | undefined; timestamp: number }): number {
  const m = /:(\d+)$/.exec(job.id ?? '');
  return m ? Number(m[1]) : job.timestamp;
}
