import { afterAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { HOUSEKEEPING } from '@sup/contracts';
import { createHousekeepingQueue } from '@sup/queue';
import { createScheduleQueue } from '@sup/schedules';
import { removeLegacyHousekeeping, scheduleHousekeeping } from '../src/housekeeping-scheduler.js';
import { capturedLog, REDIS_URL } from './harness.js';

const prefix = `t-hk-sched-${process.pid}:`;
const bull = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
const queue = createHousekeepingQueue(bull, prefix);
const schedules = createScheduleQueue(bull, prefix);
const { log, logs } = capturedLog();

afterAll(async () => {
  for (const q of [queue, schedules]) {
    await q.obliterate({ force: true }).catch(() => undefined);
    await q.close();
  }
  const ks = await bull.keys(`${prefix}*`);
  if (ks.length) await bull.del(...ks);
  await bull.quit();
});

describe('the housekeeping job scheduler', () => {
  it('is upserted at start on its own queue, one pass at a time, and put back by the check once Redis lost it (FLUSHDB), only then', async () => {
    // the timer is not what is tested: an hour, so only explicit checks run
    const s = await scheduleHousekeeping(queue, 30, log, 3_600_000);
    try {
      expect(queue.name).toBe('housekeeping');
      expect(await queue.getJobScheduler(HOUSEKEEPING.schedulerId)).toMatchObject({ every: 30_000 });
      // however many workers take the queue, passes do not overlap
      expect(await queue.getGlobalConcurrency()).toBe(1);
      expect(await s.check()).toBe(false);

      // what FLUSHDB does to this deployment's keys
      const ks = await bull.keys(`${prefix}*`);
      await bull.del(...ks);
      expect(await queue.getJobScheduler(HOUSEKEEPING.schedulerId)).toBeUndefined();

      expect(await s.check()).toBe(true);
      expect(await queue.getJobScheduler(HOUSEKEEPING.schedulerId)).toMatchObject({ every: 30_000 });
      expect(await queue.getGlobalConcurrency()).toBe(1);
      expect(await queue.getDelayedCount() + await queue.getWaitingCount()).toBe(1);
      expect(logs.join('')).toMatch(/housekeeping_scheduler_restored scheduler=housekeeping every_sec=30/);
      expect(await s.check()).toBe(false);
    } finally {
      s.close();
    }
  });

  it('says so when a worker with another HOUSEKEEPING_EVERY_SEC changes the deployment\'s interval', async () => {
    const a = await scheduleHousekeeping(queue, 30, log, 3_600_000);
    const b = await scheduleHousekeeping(queue, 3600, log, 3_600_000);
    try {
      expect(await queue.getJobScheduler(HOUSEKEEPING.schedulerId)).toMatchObject({ every: 3_600_000 });
      expect(logs.join('')).toMatch(/housekeeping_interval_changed from_sec=30 to_sec=3600/);
    } finally {
      a.close();
      b.close();
    }
  });

  it('puts back an interval or a concurrency changed in bull-board (scheduler edit, queue concurrency), once per change', async () => {
    const s = await scheduleHousekeeping(queue, 30, log, 3_600_000);
    try {
      // bull-board's PATCH .../job-schedulers/housekeeping {"every":3600000}: the template re-sent as stored
      const stored = (await queue.getJobScheduler(HOUSEKEEPING.schedulerId))!;
      await queue.upsertJobScheduler(HOUSEKEEPING.schedulerId, { every: 3_600_000 }, { name: stored.name, data: stored.template?.data ?? {}, opts: stored.template?.opts ?? {} });
      const lines = logs.length;
      expect(await s.check()).toBe(true);
      expect(await queue.getJobScheduler(HOUSEKEEPING.schedulerId)).toMatchObject({ every: 30_000 });
      expect(logs.slice(lines).join('')).toMatch(/housekeeping_scheduler_repaired scheduler=housekeeping every_sec=30 concurrency=1 found="every 3600 s, concurrency 1"/);
      expect(await s.check()).toBe(false);

      // bull-board's PUT .../queues/housekeeping/concurrency {"concurrency":0} removes the limit: passes at once
      await queue.removeGlobalConcurrency();
      expect(await s.check()).toBe(true);
      expect(await queue.getGlobalConcurrency()).toBe(1);
      expect(logs.join('')).toMatch(/housekeeping_scheduler_repaired .*found="every 30 s, concurrency unlimited"/);
      // and BullMQ's own concurrency 0: no pass at all
      await queue.setGlobalConcurrency(0);
      expect(await s.check()).toBe(true);
      expect(await queue.getGlobalConcurrency()).toBe(1);
      expect(logs.join('')).toMatch(/housekeeping_scheduler_repaired .*found="every 30 s, concurrency 0"/);
      expect(await s.check()).toBe(false);

      // an interval turned into a cron pattern
      await queue.upsertJobScheduler(HOUSEKEEPING.schedulerId, { pattern: '0 3 * * *' }, { name: HOUSEKEEPING.jobName });
      expect(await s.check()).toBe(true);
      const back = await queue.getJobScheduler(HOUSEKEEPING.schedulerId);
      expect(back).toMatchObject({ every: 30_000 });
      expect(back?.pattern ?? null).toBeNull();
      expect(logs.slice(lines).filter((l) => l.includes('housekeeping_scheduler_repaired'))).toHaveLength(4);
    } finally {
      s.close();
    }
  });

  it('workers with different HOUSEKEEPING_EVERY_SEC keep the interval the one started last set (they do not fight)', async () => {
    const a = await scheduleHousekeeping(queue, 30, log, 3_600_000);
    const b = await scheduleHousekeeping(queue, 120, log, 3_600_000);
    try {
      expect(await a.check()).toBe(false);
      expect(await b.check()).toBe(false);
      expect(await queue.getJobScheduler(HOUSEKEEPING.schedulerId)).toMatchObject({ every: 120_000 });
      // changed in bull-board: both put back the deployment's interval, not their own
      await queue.upsertJobScheduler(HOUSEKEEPING.schedulerId, { every: 3_600_000 }, { name: HOUSEKEEPING.jobName });
      expect(await a.check()).toBe(true);
      expect(await queue.getJobScheduler(HOUSEKEEPING.schedulerId)).toMatchObject({ every: 120_000 });
      expect(await b.check()).toBe(false);
    } finally {
      a.close();
      b.close();
    }
  });

  it('removes the scheduler an older version kept on queue schedules, and leaves the schedules alone', async () => {
    // what a worker of the older version upserts during a rolling upgrade
    await schedules.upsertJobScheduler(HOUSEKEEPING.legacySchedulerId, { every: 30_000 }, { name: HOUSEKEEPING.jobName });
    await schedules.upsertJobScheduler('nightly', { pattern: '0 3 * * *' }, { name: 'tick', data: { schedule_id: 'nightly' } });

    expect(await removeLegacyHousekeeping(schedules, log)).toBe(true);
    expect(await schedules.getJobScheduler(HOUSEKEEPING.legacySchedulerId)).toBeUndefined();
    expect(await schedules.getJobScheduler('nightly')).toMatchObject({ pattern: '0 3 * * *' });
    expect(logs.join('')).toMatch(/housekeeping_legacy_scheduler_removed queue=schedules scheduler=_housekeeping/);
    // nothing left to remove: quiet
    const lines = logs.length;
    expect(await removeLegacyHousekeeping(schedules, log)).toBe(false);
    expect(logs.length).toBe(lines);
  });
});
