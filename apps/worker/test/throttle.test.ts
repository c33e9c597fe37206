import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from '@jest/globals';
import { Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { QUEUES } from '@sup/contracts';
import { bullPrefix, createRunQueue } from '@sup/queue';
import { queueThrottle } from '../src/throttle.js';
import { createWatchdog } from '../src/watchdog.js';
import { capturedLog, REDIS_URL, until } from './harness.js';

/*
 * What bull-board's rate-limit and concurrency actions on queue `runs` do (Queue#setGlobalRateLimit,
 * Queue#setGlobalConcurrency), against a real BullMQ Worker: jobs wait on purpose, and the watchdog
 * must not take that for a stuck worker and exit (every worker of the fleet, in a loop).
 */
const prefix = `t-throttle-${randomBytes(4).toString('hex')}:`;
const bull = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
const queue = createRunQueue(bull, prefix);
const workers: Worker[] = [];

afterAll(async () => {
  await Promise.all(workers.map((w) => w.close(true)));
  await queue.obliterate({ force: true }).catch(() => undefined);
  await queue.close();
  const ks = await bull.keys(`${prefix}*`);
  if (ks.length) await bull.del(...ks);
  await bull.quit();
});

/** A watchdog wired as main.ts wires it, on a clock the test moves, around a real Worker of `runs`. */
function fleetOfOne(processor: (job: Job) => Promise<unknown>) {
  let t = 0;
  const exits: number[] = [];
  const { log, logs } = capturedLog();
  const wd = createWatchdog({
    conns: {}, isRunning: () => worker.isRunning(), concurrency: 2, isClosing: () => false, log,
    waiting: async () => Object.values(await queue.getJobCounts('wait', 'prioritized')).reduce((a, b) => a + b, 0),
    throttled: () => queueThrottle(queue),
    intervalMs: 1_000, pingTimeoutMs: 2_000, stuckExitMs: 5_000, now: () => t, exit: (c) => void exits.push(c),
  });
  const worker = new Worker(QUEUES.runs, wd.track(async (job: Job, _token: string | undefined, _signal?: AbortSignal) => processor(job)), {
    connection: bull, prefix: bullPrefix(prefix), concurrency: 2,
  });
  workers.push(worker);
  /** Checks over twice the exit delay, as the timer would. */
  const watch = async () => {
    const seen = [];
    for (let i = 0; i < 10; i++) {
      t += 1_000;
      seen.push(await wd.check());
    }
    return seen;
  };
  return { wd, worker, exits, logs, watch };
}

describe('a throttled `runs` queue (bull-board rate limit / global concurrency)', () => {
  it('a used-up rate limit: jobs wait, the worker stays healthy and is never restarted; logged once when it starts and ends', async () => {
    await queue.setGlobalRateLimit(1, 600_000);
    const done: string[] = [];
    const { worker, exits, logs, watch } = fleetOfOne(async (job) => void done.push(job.id!));
    await worker.waitUntilReady();
    await Promise.all(['r1', 'r2', 'r3'].map((id) => queue.add('step', { run_id: id, graph: 'abc' }, { jobId: id })));
    await until('the one job the limit lets through', () => done.length === 1);
    await until('the other two waiting', async () => (await queue.getWaitingCount()) === 2);
    expect(await queueThrottle(queue)).toMatch(/^queue runs is rate limited to 1 jobs per 600000 ms \(next job in \d+ ms\)$/);

    expect((await watch()).every((h) => h.ok)).toBe(true);
    expect(exits).toEqual([]);
    expect(done).toHaveLength(1);
    expect(logs.filter((l) => l.includes('queue_throttled'))).toHaveLength(1);
    expect(logs.join('')).toMatch(/queue_throttled reason="?queue runs is rate limited/);

    // bull-board's PUT …/rate-limit {"max":null}; the Worker sleeps out up to 30 s of the old limit
    await queue.removeGlobalRateLimit();
    expect(await queueThrottle(queue)).toBeNull();
    expect((await watch()).every((h) => h.ok)).toBe(true);
    expect(logs.filter((l) => l.includes('queue_throttle_ended'))).toHaveLength(1);
    expect(exits).toEqual([]);
    await worker.close(true);
    await queue.obliterate({ force: true });
  });

  it('the fleet at the queue\'s global concurrency: jobs wait, the worker stays healthy and is never restarted', async () => {
    await queue.setGlobalConcurrency(1);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const started: string[] = [];
    const { worker, exits, logs, watch } = fleetOfOne(async (job) => {
      started.push(job.id!);
      await gate;
    });
    await worker.waitUntilReady();
    await Promise.all(['c1', 'c2', 'c3'].map((id) => queue.add('step', { run_id: id, graph: 'abc' }, { jobId: id })));
    await until('one job active', async () => started.length === 1 && (await queue.getWaitingCount()) === 2);
    expect(await queueThrottle(queue)).toBe('queue runs is at its global concurrency of 1 active jobs');

    // one slot of two is free and two jobs wait: without the throttle, "stuck" and exit 1
    expect((await watch()).every((h) => h.ok)).toBe(true);
    expect(exits).toEqual([]);
    expect(logs.filter((l) => l.includes('queue_throttled'))).toHaveLength(1);

    release();
    await until('every job taken, one at a time', () => started.length === 3);
    await queue.removeGlobalConcurrency();
    expect(await queueThrottle(queue)).toBeNull();
  });
});
