import { afterAll, describe, expect, it } from '@jest/globals';
import { keepClockSynced, RedisClock } from '@sup/run-store';
import { capturedLog, harness, until } from './harness.js';

// two workers on one queue whose host clocks disagree by ten minutes (a broken NTP)
const AHEAD_MS = 600_000;
const aheadLocal = () => Date.now() + AHEAD_MS;
// each worker's nodes read its RedisClock, as in main.ts
const a = harness({ now: aheadLocal, recordNow: () => clockA.now() });
const b = harness({ prefix: a.prefix, recordNow: () => clockB.now() });
const clockA = new RedisClock(a.redis, aheadLocal);
const clockB = new RedisClock(b.redis);
afterAll(async () => {
  await b.close();
  await a.close();
});

describe('workers whose clocks disagree', () => {
  it('RedisClock reads Redis\' time whatever the local clock says', async () => {
    await Promise.all([clockA.sync(), clockB.sync()]);
    const [sec, usec] = await a.redis.time();
    const redisMs = Number(sec) * 1000 + Number(usec) / 1000;
    // bounds far inside the ten minutes (a sync is off by at most half its round trip): not timings
    expect(Math.abs(clockA.now() - redisMs)).toBeLessThan(30_000);
    expect(Math.abs(clockA.now() - clockB.now())).toBeLessThan(30_000);
    expect(Math.abs(clockA.offsetMs + AHEAD_MS)).toBeLessThan(30_000);
  });

  it('a node parked on one worker and resumed on another measures its wait on one clock (release_check\'s timeout_sec)', async () => {
    await Promise.all([clockA.sync(), clockB.sync()]);
    // the first pass on the worker ten minutes ahead
    await a.start();
    const { record } = await a.submit({}, 'waited');
    await until('parked', async () => (await a.store.get(record.run_id))?.status === 'waiting');
    await a.stopGracefully(() => undefined);
    // its park is due by the ahead clock only (BullMQ's delay follows the parking host): let it go now
    await (await a.queue.getJob(record.run_id))!.promote();
    // the next pass on a worker with the right time
    await b.start();
    const done = await until('finished', async () => {
      const r = await b.store.get(record.run_id);
      return r?.status === 'succeeded' && r;
    });
    const { waited_ms } = done.result as { waited_ms: number };
    // by the hosts' own clocks the node would have waited minus ten minutes (and a timeout measured
    // so would fire ten minutes early on a host behind)
    expect(waited_ms).toBeGreaterThanOrEqual(0);
    expect(waited_ms).toBeLessThan(60_000);
    // and the record is stamped on Redis' clock too: the worker ten minutes ahead started it, yet
    // started_at is not ten minutes after created_at (the API's, on time here)
    const startedMs = Date.parse(done.started_at!);
    expect(Math.abs(startedMs - Date.parse(done.created_at))).toBeLessThan(60_000);
    expect(Date.parse(done.finished_at!)).toBeGreaterThanOrEqual(startedMs);
  });

  it('a worker whose clock is off says so: clock_offset, a warning from a second on', async () => {
    const { log, logs } = capturedLog();
    const stop = await keepClockSynced(new RedisClock(a.redis, aheadLocal), log);
    stop();
    const { log: okLog, logs: okLogs } = capturedLog();
    (await keepClockSynced(new RedisClock(a.redis), okLog))();
    await until('logged', () => logs.length > 0 && okLogs.length > 0);
    expect(logs.join('')).toMatch(/\[WARN\] clock_offset offset_ms=-(59\d{4}|60\d{4}) /);
    expect(okLogs.join('')).toMatch(/\[INFO\] clock_offset offset_ms=-?\d{1,3}\n/);
  });
});
