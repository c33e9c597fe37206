import { afterAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { HOUSEKEEPING } from '@sup/contracts';
import { createScheduleQueue } from '@sup/schedules';
import { scheduleHousekeeping } from '../src/housekeeping-scheduler.js';
import { capturedLog, REDIS_URL } from './harness.js';

const prefix = `t-hk-sched-${process.pid}:`;
const bull = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
const queue = createScheduleQueue(bull, prefix);
const { log, logs } = capturedLog();

afterAll(async () => {
  await queue.obliterate({ force: true }).catch(() => undefined);
  await queue.close();
  const ks = await bull.keys(`${prefix}*`);
  if (ks.length) await bull.del(...ks);
  await bull.quit();
});

describe('the housekeeping job scheduler', () => {
  it('is upserted at start, and put back by the check once Redis lost it (FLUSHDB), only then', async () => {
    // the timer is not what is tested: an hour, so only explicit checks run
    const s = await scheduleHousekeeping(queue, 30, log, 3_600_000);
    try {
      expect(await queue.getJobScheduler(HOUSEKEEPING.schedulerId)).toMatchObject({ every: 30_000 });
      expect(await s.check()).toBe(false);

      // what FLUSHDB does to this deployment's keys
      const ks = await bull.keys(`${prefix}*`);
      await bull.del(...ks);
      expect(await queue.getJobScheduler(HOUSEKEEPING.schedulerId)).toBeUndefined();

      expect(await s.check()).toBe(true);
      expect(await queue.getJobScheduler(HOUSEKEEPING.schedulerId)).toMatchObject({ every: 30_000 });
      expect(await queue.getDelayedCount() + await queue.getWaitingCount()).toBe(1);
      expect(logs.join('')).toMatch(/housekeeping_scheduler_restored scheduler=_housekeeping every_sec=30/);
      expect(await s.check()).toBe(false);
    } finally {
      s.close();
    }
  });
});
