import { randomBytes } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { afterAll, describe, expect, it } from '@jest/globals';
import { Queue, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { createLogger } from '@sup/logging';
import { renewableWorker, type RenewableWorker } from '../src/renewable.js';
import { createWatchdog } from '../src/watchdog.js';
import { REDIS_URL, until } from './harness.js';

const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
afterAll(() => connection.quit());

/**
 * What a Redis Cluster outage left behind (docs/reliability.md, seventh session): a Worker that is
 * `running`, not paused, but whose wait for the next job never settles — no BZPOPMIN reaches Redis
 * again while jobs wait. Here the first Worker's wait is made to hang the same way.
 */
function wedge(w: Worker): Worker {
  (w as unknown as { waitForJob(): Promise<number> }).waitForJob = () => new Promise<number>(() => undefined);
  return w;
}

describe('a runs Worker whose fetch loop wedged', () => {
  it('is replaced in the process by the watchdog: the waiting jobs are taken, no exit', async () => {
    const name = 'renew';
    const prefix = `test${randomBytes(4).toString('hex')}`;
    const lines: string[] = [];
    const log = createLogger({ service: 'test', format: 'text', stream: new PassThrough().on('data', (c: Buffer) => lines.push(c.toString())) });
    const queue = new Queue(name, { connection, prefix });
    const taken: string[] = [];
    const exits: number[] = [];
    let made = 0;
    let runs: RenewableWorker | undefined;
    const watchdog = createWatchdog({
      conns: {}, concurrency: 2, log, isClosing: () => false,
      isRunning: () => runs!.current().isRunning(),
      waiting: async () => (await queue.getWaitingCount()),
      recover: (why) => runs!.renew(why),
      intervalMs: 100, recoverAfterMs: 200, stuckExitMs: 60_000, exit: (c) => void exits.push(c),
    });
    const processor = watchdog.track(async (job: Job) => void taken.push(job.id!));
    try {
      runs = await renewableWorker({
        queue: name, log, retireWaitMs: 200,
        make: () => {
          const w = new Worker(name, processor, { connection, prefix, concurrency: 2 });
          return made++ === 0 ? wedge(w) : w;
        },
      });
      await Promise.all(['j1', 'j2', 'j3'].map((id) => queue.add('x', {}, { jobId: id })));
      watchdog.start();
      await until('the jobs taken', async () => taken.length === 3, 20_000);
      expect(taken.sort()).toEqual(['j1', 'j2', 'j3']);
      expect([runs.generation(), exits]).toEqual([2, []]);
      const log_ = lines.join('');
      expect(log_).toMatch(/worker_recovering reason="3 jobs waiting and 2 free slots, but no job taken/);
      expect(log_).toMatch(/worker_renewed queue=renew reason="3 jobs waiting .*" generation=2/);
      expect(log_).not.toMatch(/worker_stuck/);
    } finally {
      watchdog.stop();
      await runs?.close();
      await queue.obliterate({ force: true });
      await queue.close();
    }
  }, 30_000); // without the recovery the jobs wait for ever and closing the wedged Worker hangs

  it('a fresh Worker that does not get ready is given up: the old one stays current, the renewal can be tried again', async () => {
    const name = 'renew-unready';
    const prefix = `test${randomBytes(4).toString('hex')}`;
    let made = 0;
    const runs = await renewableWorker({
      queue: name, log: createLogger({ service: 'test', level: 'error' }), readyWaitMs: 100, retireWaitMs: 100,
      make: () => {
        const w = new Worker(name, async () => undefined, { connection, prefix });
        if (made++ === 1) w.waitUntilReady = () => new Promise<never>(() => undefined);
        return w;
      },
    });
    const first = runs.current();
    await expect(runs.renew('test')).rejects.toThrow(/a fresh renew-unready worker was not ready within 100 ms/);
    expect([runs.current(), runs.generation()]).toEqual([first, 1]);
    await runs.renew('again');
    expect([runs.current() === first, runs.generation()]).toEqual([false, 2]);
    await runs.close();
    const queue = new Queue(name, { connection, prefix });
    await queue.obliterate({ force: true });
    await queue.close();
  });

  it('close() of a renewed Worker ends even though the retired one never finishes closing', async () => {
    const name = 'renew-close';
    const prefix = `test${randomBytes(4).toString('hex')}`;
    const log = createLogger({ service: 'test', level: 'error' });
    let made = 0;
    const runs = await renewableWorker({
      queue: name, log, retireWaitMs: 200,
      make: () => {
        const w = new Worker(name, async () => undefined, { connection, prefix });
        return made++ === 0 ? wedge(w) : w;
      },
    });
    const first = runs.current();
    await runs.renew('test');
    expect(runs.current()).not.toBe(first);
    await runs.close();
    expect(runs.current().closing).toBeTruthy();
    const queue = new Queue(name, { connection, prefix });
    await queue.obliterate({ force: true });
    await queue.close();
  });
});

describe('a renewal asked for once close() was called', () => {
  it('starts no Worker: none is left taking jobs after the close', async () => {
    const name = 'renew-after-close';
    const prefix = `test${randomBytes(4).toString('hex')}`;
    const made: Worker[] = [];
    const runs = await renewableWorker({
      queue: name, log: createLogger({ service: 'test', level: 'error' }), retireWaitMs: 200,
      make: () => {
        const w = new Worker(name, async () => undefined, { connection, prefix });
        made.push(w);
        return w;
      },
    });
    // the watchdog's check began before the SIGTERM and calls recover while the shutdown closes
    const closing = runs.close();
    const late = runs.renew('jobs waiting and no job taken');
    await closing;
    await expect(late).rejects.toThrow(/the renew-after-close worker is closing: not renewed/);
    try {
      expect([made.length, made.filter((w) => w.isRunning()).length, runs.generation()]).toEqual([1, 0, 1]);
    } finally {
      await Promise.all(made.map((w) => w.close()));
      const queue = new Queue(name, { connection, prefix });
      await queue.obliterate({ force: true });
      await queue.close();
    }
  });
});
