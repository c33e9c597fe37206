import { EventEmitter } from 'node:events';
import { PassThrough } from 'node:stream';
import { describe, expect, it, jest } from '@jest/globals';
import type { Worker } from 'bullmq';
import { ReplyError } from 'ioredis';
import { createLogger } from '@sup/logging';
import { createRefusalGuard } from '../src/refusals.js';
import { until } from './harness.js';

/** The part of a BullMQ Worker the guard uses, recording what it was told. */
class FakeWorker extends EventEmitter {
  paused = false;
  calls: string[] = [];
  isPaused() {
    return this.paused;
  }
  async pause(doNotWaitActive?: boolean) {
    this.paused = true;
    this.calls.push(`pause(${doNotWaitActive})`);
  }
  async resume() {
    this.paused = false;
    this.calls.push('resume');
  }
}

function setup() {
  const lines: string[] = [];
  const stream = new PassThrough();
  stream.on('data', (c: Buffer) => lines.push(...c.toString().split('\n').filter(Boolean)));
  // the probe write: refused while `full`, counted
  const redis = { full: true, probes: 0 };
  const probe = async () => {
    redis.probes++;
    if (redis.full) throw OOM();
    return 'OK';
  };
  const guard = createRefusalGuard({ log: createLogger({ service: 'test', stream }), probe, probeEveryMs: 10, remindMs: 60_000 });
  const worker = new FakeWorker();
  guard.watch(worker as unknown as Worker, 'runs');
  return { guard, worker, lines, redis };
}

const OOM = () => new ReplyError("OOM command not allowed when used memory > 'maxmemory'. script: d96c, on @user_script:217.");

describe('refusal guard: a Worker whose fetch Redis refuses pauses instead of spinning', () => {
  it('pauses on a refusal (jobs in flight go on) and stays paused, probing, until Redis takes a write; one warning, one all-clear', async () => {
    const { guard, worker, lines, redis } = setup();
    const other = new FakeWorker();
    guard.watch(other as unknown as Worker, 'webhooks');
    worker.emit('error', OOM());
    worker.emit('error', OOM()); // e.g. a job in flight finishing meanwhile: no second pause
    other.emit('error', OOM());
    expect([worker.calls, other.calls]).toEqual([['pause(true)'], ['pause(true)']]);
    expect(guard.refusing()).toMatch(/^redis refuses this worker's writes since .*: OOM command not allowed/);
    await until('probed while refused', async () => redis.probes >= 3);
    expect([worker.calls, other.calls, guard.refusing()]).toEqual([['pause(true)'], ['pause(true)'], expect.any(String)]);
    redis.full = false;
    await until('episode over', async () => guard.refusing() === null);
    expect([worker.calls, other.calls]).toEqual([['pause(true)', 'resume'], ['pause(true)', 'resume']]);
    expect(lines.filter((l) => l.includes('redis_refusing'))).toHaveLength(1);
    expect(lines.filter((l) => l.includes('redis_accepting'))).toEqual([expect.stringContaining('refusals=3')]);
    expect(lines.filter((l) => l.includes('worker_error'))).toEqual([]);
    guard.stop();
  });

  it('other errors, and a lost connection (BullMQ waits after that itself), are logged as worker_error and pause nothing', () => {
    const { guard, worker, lines } = setup();
    worker.emit('error', new ReplyError('WRONGTYPE Operation against a key holding the wrong kind of value'));
    worker.emit('error', new Error('Connection is closed.'));
    expect(worker.calls).toEqual([]);
    expect(guard.refusing()).toBeNull();
    expect(lines.filter((l) => l.includes('worker_error'))).toHaveLength(2);
  });

  it('a lost connection, which every Worker of the process reports on every retry, is one worker_error line per message per 5 s with repeated=', () => {
    jest.useFakeTimers();
    try {
      const { guard, worker, lines } = setup();
      const other = new FakeWorker();
      guard.watch(other as unknown as Worker, 'webhooks');
      const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), { code: 'ECONNREFUSED' });
      for (let i = 0; i < 30; i++) (i % 2 ? other : worker).emit('error', refused);
      jest.advanceTimersByTime(5_000);
      worker.emit('error', refused);
      // another message in the same burst has its own line
      worker.emit('error', new Error('All sentinels are unreachable. Retrying from scratch after 10ms.'));
      const errors = lines.filter((l) => l.includes('worker_error'));
      expect(errors).toEqual([
        expect.stringMatching(/worker_error queue=runs error="connect ECONNREFUSED 127\.0\.0\.1:6379"$/), expect.stringMatching(/repeated=29$/),
        expect.stringMatching(/error="All sentinels are unreachable/),
      ]);
      expect(worker.calls).toEqual([]);
    } finally {
      jest.useRealTimers();
    }
  });

  it('after stop() (the process is stopping) nothing is probed, resumed or paused any more', () => {
    jest.useFakeTimers();
    try {
      const { guard, worker, lines, redis } = setup();
      worker.emit('error', OOM());
      guard.stop();
      redis.full = false;
      jest.advanceTimersByTime(1_000);
      expect([worker.calls, redis.probes]).toEqual([['pause(true)'], 0]);
      // a refusal while stopping is only logged
      worker.paused = false;
      worker.emit('error', OOM());
      jest.advanceTimersByTime(1_000);
      expect([worker.calls, redis.probes]).toEqual([['pause(true)'], 0]);
      expect(lines.filter((l) => l.includes('worker_error'))).toHaveLength(1);
    } finally {
      jest.useRealTimers();
    }
  });
});
