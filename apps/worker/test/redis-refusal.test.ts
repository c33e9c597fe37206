import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Queue, Worker } from 'bullmq';
import { ReplyError } from 'ioredis';
import { createLogger } from '@sup/logging';
import { parkOnRefusal } from '../src/refusals.js';
import type { CommitRequest, RunStore } from '@sup/run-store';
import { harness, until } from './harness.js';

// the commit of node `a`'s outcome fails once per run listed here, with the error given
const refuse = new Map<string, Error>();
const h = harness({
  redisRetryMs: 50,
  wrapStore: (store) => Object.assign(Object.create(store) as RunStore, {
    async commit(runId: string, req: CommitRequest) {
      const err = refuse.get(runId);
      if (err && req.events?.some((e) => e.type === 'node_finished' && e.node === 'a')) {
        refuse.delete(runId);
        throw err;
      }
      return store.commit(runId, req);
    },
  }),
});
beforeAll(() => h.start());
afterAll(() => h.close());

async function runThrough(err: Error) {
  h.resetGate();
  const { record } = await h.submit();
  refuse.set(record.run_id, err);
  await h.gate.entered();
  h.gate.open();
  await until('succeeded', async () => (await h.store.get(record.run_id))?.status === 'succeeded');
  const job = (await h.queue.getJob(record.run_id))!;
  const events = (await h.store.events(record.run_id)).map((e) => e.type);
  const aCalls = h.calls.filter((c) => c.key.startsWith(`${record.run_id}:a:`)).map((c) => c.key);
  return { job, events, aCalls, record };
}

describe('a pass whose Redis write is refused', () => {
  it('out of memory: the job is parked and retried without spending an attempt; the node runs again under the same key', async () => {
    const { job, events, aCalls } = await runThrough(new ReplyError("OOM command not allowed when used memory > 'maxmemory'. script: f, on @user_script:71."));
    expect(refuse.size).toBe(0);
    // BullMQ counts the attempt that completed the job too: 1 = none failed
    expect(job.attemptsMade).toBe(1);
    // the refused write never landed: the next pass took over from the claim and ran `a` again
    expect(events).toEqual(['run_created', 'run_started', 'run_resumed', 'node_finished', 'node_finished', 'node_finished', 'run_succeeded']);
    expect(aCalls).toHaveLength(2);
    expect(new Set(aCalls).size).toBe(1);
  });

  it('any other error still spends one of the job attempts (BullMQ retries it with backoff)', async () => {
    const { job, events } = await runThrough(new Error('a bug'));
    expect([job.attemptsMade, job.failedReason]).toEqual([2, 'a bug']);
    expect(events.filter((e) => e === 'run_resumed')).toHaveLength(1);
  });
});

describe('parkOnRefusal around any processor (schedule ticks, housekeeping)', () => {
  it('parks a job Redis refused and redoes it; other errors still fail it', async () => {
    const queue = new Queue('park-test', { connection: h.queue.opts.connection, prefix: `${h.prefix}park` });
    const lines: string[] = [];
    const stream = new PassThrough().on('data', (c: Buffer) => lines.push(c.toString()));
    const tries = new Map<string, number>();
    const processor = parkOnRefusal(async (job) => {
      const n = (tries.get(job.id!) ?? 0) + 1;
      tries.set(job.id!, n);
      if (n === 1) throw job.data.refuse ? new ReplyError('READONLY You can\'t write against a read only replica.') : new Error('a bug');
      return `done after ${n}`;
    }, { delayMs: 20, log: createLogger({ service: 'test', stream }), now: Date.now, event: 'schedule_redis_retry', fields: (job) => ({ job: job.name }) });
    const worker = new Worker('park-test', processor, { connection: h.queue.opts.connection, prefix: `${h.prefix}park` });
    try {
      await queue.add('tick', { refuse: true }, { jobId: 'refused', attempts: 1 });
      await queue.add('tick', { refuse: false }, { jobId: 'buggy', attempts: 1 });
      await until('both settled', async () => (await queue.getJobState('refused')) === 'completed' && (await queue.getJobState('buggy')) === 'failed');
      expect((await queue.getJob('refused'))!.returnvalue).toBe('done after 2');
      expect((await queue.getJob('buggy'))!.failedReason).toBe('a bug');
      expect(lines.join('')).toMatch(/schedule_redis_retry job=tick delay_ms=20 error="READONLY/);
    } finally {
      await worker.close();
      await queue.obliterate({ force: true });
      await queue.close();
    }
  });
});
