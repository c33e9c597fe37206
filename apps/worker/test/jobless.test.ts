import { PassThrough } from 'node:stream';
import { afterAll, describe, expect, it } from '@jest/globals';
import { Worker } from 'bullmq';
import { QUEUES } from '@sup/contracts';
import { bullPrefix, newRunRecord } from '@sup/queue';
import { createLogger } from '@sup/logging';
import { JOBLESS_GRACE_MS, requeueJoblessRuns } from '../src/jobless.js';
import { harness, until } from './harness.js';

const h = harness();
afterAll(() => h.close());

const logs: string[] = [];
const stream = new PassThrough();
stream.on('data', (b: Buffer) => logs.push(b.toString()));
const log = createLogger({ service: 'worker-test', stream });
/** A pass as housekeeping runs it, once the runs are past the grace period. */
const sweep = (nowMs = Date.now() + JOBLESS_GRACE_MS + 1) => requeueJoblessRuns(h.queue, h.redis, h.store, log, 600, nowMs);
const live = (id: string) => h.redis.zscore(h.store.keys.live, id);

/** A run written as the API writes it, whose job Redis never kept (the enqueue was lost). */
async function jobless(graph = 'abc') {
  const rec = newRunRecord({ graph, agentId: 'sofiia', input: {} });
  await h.store.create(rec, { events: [] });
  return rec;
}

describe('housekeeping gives live runs without a job their job back', () => {
  it('requeues a live run whose job completed without finishing it', async () => {
    const rec = await jobless('park');
    await h.queue.add('step', { run_id: rec.run_id, graph: 'park' }, { jobId: rec.run_id });
    // a "worker" (not ours: no processor of this system) that takes the job and completes it,
    // leaving the run as it was; the harness's own worker is not started yet
    const conn = h.redis.duplicate({ maxRetriesPerRequest: null });
    const rogue = new Worker(QUEUES.runs, null, { connection: conn, prefix: bullPrefix(h.prefix), autorun: false });
    const job = await rogue.getNextJob('rogue-token', { block: false });
    expect(job?.id).toBe(rec.run_id);
    await job!.moveToCompleted('done', 'rogue-token', false);
    await rogue.close();
    await conn.quit();
    expect(await h.queue.getJobState(rec.run_id)).toBe('completed');
    expect(await sweep()).toBe(1);
    expect(logs.join('')).toMatch(new RegExp(`run_job_restored run=${rec.run_id} status=queued node=- reason=job_completed`));
    expect(await h.queue.getJobState(rec.run_id)).toBe('waiting');
    expect(await sweep()).toBe(0);
  });

  it('requeues a queued run whose job is gone, leaves runs with a job and young runs alone; the run then succeeds', async () => {
    const lost = await jobless();
    const fine = (await h.submit({}, 'park')).record;
    expect(await sweep(Date.now())).toBe(0); // still within the grace period: the API may be enqueueing it
    expect(await h.queue.getJob(lost.run_id)).toBeUndefined();
    expect(await sweep()).toBe(1);
    expect(await h.queue.getJobState(lost.run_id)).toBe('waiting');
    expect(await h.queue.getJobState(fine.run_id)).toBe('waiting');
    expect(logs.join('')).toMatch(new RegExp(`run_job_restored run=${lost.run_id} status=queued node=- reason=job_missing`));
    expect(await sweep()).toBe(0); // it has one now

    await h.start();
    await h.gate.entered();
    h.gate.open();
    await until('the requeued run succeeded', async () => (await h.store.get(lost.run_id))?.status === 'succeeded');
    expect((await h.store.get(lost.run_id))!.nodes.map((n) => n.node)).toEqual(['a', 'b', 'c']);
    expect(await live(lost.run_id)).toBeNull();
  });

  it('requeues a parked run whose delayed job was removed, due when its record says', async () => {
    const { record } = await h.submit({}, 'park');
    await until('parked', async () => (await h.store.get(record.run_id))?.status === 'waiting');
    await until('job delayed', async () => (await h.queue.getJobState(record.run_id)) === 'delayed');
    const until_ = Date.parse((await h.store.get(record.run_id))!.waiting!.until);
    await (await h.queue.getJob(record.run_id))!.remove(); // what bull-board's "remove" does
    const now = Date.now() + JOBLESS_GRACE_MS + 1;
    expect(await sweep(now)).toBe(1);
    const job = (await h.queue.getJob(record.run_id))!;
    expect(await job.getState()).toBe('delayed');
    expect(job.delay).toBe(until_ - now);
    await job.promote(); // rather than wait out the park
    await until('succeeded', async () => (await h.store.get(record.run_id))?.status === 'succeeded');
    // one history entry for the node: parked once, then finished on the restored job's pass
    expect((await h.store.get(record.run_id))!.nodes).toMatchObject([{ node: 'p', visit: 1, status: 'succeeded' }]);
  });

  it('drops finished, hand-finished and deleted runs from the live set; keeps a hand-broken one', async () => {
    const done = await jobless();
    const byHand = await jobless();
    const deleted = await jobless();
    const broken = await jobless();
    await h.redis.set(h.keys.run(byHand.run_id), JSON.stringify({ ...byHand, status: 'failed' }), 'KEEPTTL');
    await h.redis.del(h.keys.run(deleted.run_id));
    await h.redis.set(h.keys.run(broken.run_id), 'not json', 'KEEPTTL');
    await h.store.commit(done.run_id, { ifStatus: ['queued'], record: { ...done, status: 'cancelled' } });
    expect(await sweep()).toBe(0);
    expect(await Promise.all([done, byHand, deleted, broken].map((r) => live(r.run_id)))).toEqual([null, null, null, expect.any(String)]);
    expect(await Promise.all([byHand, deleted, broken].map((r) => h.queue.getJob(r.run_id)))).toEqual([undefined, undefined, undefined]);
  });
});
