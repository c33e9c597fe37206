import { afterAll, describe, expect, it } from '@jest/globals';
import { UnrecoverableError, Worker } from 'bullmq';
import { event, JOB_NAMES, QUEUES, type RunRecord } from '@sup/contracts';
import { bullPrefix, enqueueCompensation, enqueueRun, newRunRecord } from '@sup/queue';
import type { RunStore } from '@sup/run-store';
import { REPAIR_GRACE_MS, repairLiveRuns, RUNNING_QUIET_MS } from '../src/repair.js';
import { capturedLog, harness, until } from './harness.js';

const h = harness();
afterAll(() => h.close());

const { log, logs } = capturedLog();
const finished: RunRecord[] = [];
/** A pass as housekeeping runs it, once the runs are past the grace period; how many were restored. */
const repair = (nowMs = Date.now() + REPAIR_GRACE_MS + 1) =>
  repairLiveRuns({ queue: h.queue, redis: h.redis, store: h.store, log, ttlSec: 600, onFailed: (r) => finished.push(r) }, nowMs);
const sweep = async (nowMs?: number) => (await repair(nowMs)).restored;
const live = (id: string) => h.redis.zscore(h.store.keys.live, id);

/** A run written as the API writes it, whose job Redis never kept (the enqueue was lost). */
async function jobless(graph = 'abc') {
  const rec = newRunRecord({ graph, agentId: 'sofiia', input: {} });
  await h.store.create(rec, { events: [] });
  return rec;
}

describe('housekeeping repairs live runs left without a job that will move them', () => {
  it('marks a live run whose job failed for good failed with the job\'s reason; leaves finished runs and compensation jobs alone', async () => {
    const orphan = (await h.submit()).record;
    const done = (await h.submit()).record;
    await enqueueCompensation(h.queue, { run_id: done.run_id, graph: 'abc' }, 600);
    // every job fails for good at once, as if its last attempt's mark-failed write had been refused
    const conn = h.redis.duplicate({ maxRetriesPerRequest: null });
    const worker = new Worker(QUEUES.runs, async (job) => {
      throw new UnrecoverableError(job.name === JOB_NAMES.compensate ? 'compensation broke' : 'OOM command not allowed');
    }, { connection: conn, prefix: bullPrefix(h.prefix) });
    const ids = [orphan.run_id, done.run_id, `${done.run_id}-cancel`];
    await until('their jobs failed', async () => (await Promise.all(ids.map((id) => h.queue.getJobState(id)))).every((st) => st === 'failed'));
    await worker.close();
    await conn.quit();
    const rec = (await h.store.get(done.run_id))!;
    expect((await h.store.commit(done.run_id, { ifStatus: ['queued'], record: { ...rec, status: 'cancelled' } })).ok).toBe(true);

    expect(await repair()).toEqual({ restored: 0, failed: 1, kept: 0 });
    expect(await h.store.get(orphan.run_id)).toMatchObject({ status: 'failed', error: { code: 'worker_error', message: 'OOM command not allowed' } });
    expect((await h.store.get(done.run_id))!.status).toBe('cancelled');
    expect(finished.map((r) => r.run_id)).toEqual([orphan.run_id]);
    expect(logs.join('')).toMatch(new RegExp(`run_graph error run=${orphan.run_id} error="OOM command not allowed" phase=orphan_failed`));
    // a second pass finds nothing left to do, and the failed job stays where it is
    expect(await repair()).toEqual({ restored: 0, failed: 0, kept: 0 });
    expect(await h.queue.getJobState(orphan.run_id)).toBe('failed');
  });

  it('one run broken by hand (record or events key of another Redis type) is skipped; the pass goes on for the others', async () => {
    const hashed = await jobless();
    await h.redis.del(h.store.keys.run(hashed.run_id));
    await h.redis.hset(h.store.keys.run(hashed.run_id), 'status', 'failed');
    const brokenEvents = (await h.submit()).record;
    const orphan = (await h.submit()).record;
    const conn = h.redis.duplicate({ maxRetriesPerRequest: null });
    const worker = new Worker(QUEUES.runs, async () => { throw new UnrecoverableError('gave up'); }, { connection: conn, prefix: bullPrefix(h.prefix) });
    await until('their jobs failed', async () => (await Promise.all([brokenEvents, orphan].map((r) => h.queue.getJobState(r.run_id)))).every((st) => st === 'failed'));
    await worker.close();
    await conn.quit();
    await h.redis.del(h.store.keys.events(brokenEvents.run_id));
    await h.redis.set(h.store.keys.events(brokenEvents.run_id), 'oops');
    const lost = await jobless();

    expect(await repair()).toEqual({ restored: 1, failed: 1, kept: 0 });
    expect((await h.store.get(orphan.run_id))!.status).toBe('failed');
    expect(await h.queue.getJobState(lost.run_id)).not.toBe('unknown');
    expect((await h.store.get(brokenEvents.run_id))!.status).toBe('queued');
    expect(logs.join('')).toMatch(new RegExp(`run_repair_skipped run=${brokenEvents.run_id} error=".*events key holds another Redis type`));
    // leave nothing for the next tests' workers and passes
    await h.queue.remove(lost.run_id);
    const left = [hashed, brokenEvents, lost].map((r) => r.run_id);
    await h.redis.del(...left.flatMap((id) => [h.store.keys.run(id), h.store.keys.events(id)]));
    await h.store.forgetLive(left);
  });

  it('does not fail a run whose failed job was retried by hand between the check and the read', async () => {
    const rec = newRunRecord({ graph: 'abc', agentId: 'sofiia', input: {} });
    await h.store.create(rec, { events: [] });
    await h.queue.add('step', { run_id: rec.run_id, graph: 'abc' }, { jobId: rec.run_id });
    const conn = h.redis.duplicate({ maxRetriesPerRequest: null });
    // the harness's worker is not started yet: this one takes the job and fails it for good
    const rogue = new Worker(QUEUES.runs, null, { connection: conn, prefix: bullPrefix(h.prefix), autorun: false });
    const job = await rogue.getNextJob('rogue-token', { block: false });
    expect(job?.id).toBe(rec.run_id);
    await job!.moveToFailed(new Error('OOM command not allowed'), 'rogue-token', false);
    await rogue.close();
    await conn.quit();
    expect(await h.queue.getJobState(rec.run_id)).toBe('failed');
    // the operator's "retry" lands right after the pass saw the job failed
    const racing = Object.assign(Object.create(h.store) as RunStore, {
      read: async (id: string) => {
        if (id === rec.run_id) await (await h.queue.getJob(id))!.retry();
        return h.store.read(id);
      },
    });
    expect(await repairLiveRuns({ queue: h.queue, redis: h.redis, store: racing, log, ttlSec: 600 }, Date.now() + REPAIR_GRACE_MS + 1))
      .toEqual({ restored: 0, failed: 0, kept: 0 });
    expect((await h.store.get(rec.run_id))!.status).toBe('queued');
    // out of the way of the next tests: finished, its job gone
    expect((await h.store.commit(rec.run_id, { ifStatus: ['queued'], record: { ...rec, status: 'cancelled' } })).ok).toBe(true);
    await (await h.queue.getJob(rec.run_id))!.remove();
  });

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
    const now = Date.now() + REPAIR_GRACE_MS + 1;
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

  it('keeps a run from expiring while its job waits (a paused queue, a backlog, a delay pushed out): record, events and idempotency key', async () => {
    // due in an hour, with 5 s left on its record: it would be gone (run_missing) when its job came
    const waiting = newRunRecord({ graph: 'abc', agentId: 'sofiia', input: {} });
    await h.store.create(waiting, { events: [event('run_created')], idempotencyKey: 'keep-me' });
    await enqueueRun(h.queue, { run_id: waiting.run_id, graph: 'abc' }, 600, 3_600_000);
    const keys = [h.keys.run(waiting.run_id), h.keys.events(waiting.run_id), h.keys.idem('sofiia', 'keep-me')];
    for (const k of keys) await h.redis.expire(k, 5);
    // the same, with its whole TTL ahead: left as it is
    const fresh = newRunRecord({ graph: 'abc', agentId: 'sofiia', input: {} });
    await h.store.create(fresh, { events: [] });
    await enqueueRun(h.queue, { run_id: fresh.run_id, graph: 'abc' }, 600, 3_600_000);

    const pass = () => repairLiveRuns({ queue: h.queue, redis: h.redis, store: h.store, log, ttlSec: 600, keepLiveSec: 120 }, Date.now() + REPAIR_GRACE_MS + 1);
    expect(await pass()).toEqual({ restored: 0, failed: 0, kept: 1 });
    const ttls = await Promise.all(keys.map((k) => h.redis.ttl(k)));
    for (const [i, k] of keys.entries()) expect([k, ttls[i]! > 100 && ttls[i]! <= 120]).toEqual([k, true]);
    expect(await h.redis.ttl(h.keys.run(fresh.run_id))).toBeGreaterThan(500);
    // raised only while it is short: the next pass leaves it
    expect(await pass()).toEqual({ restored: 0, failed: 0, kept: 0 });
    for (const r of [waiting, fresh]) await (await h.queue.getJob(r.run_id))!.remove();
  });

  it('keeps a just-created run whose job waits from expiring, also when the housekeeper\'s clock is ten minutes behind the API\'s', async () => {
    const waiting = newRunRecord({ graph: 'abc', agentId: 'sofiia', input: {} });
    await h.store.create(waiting, { events: [event('run_created')] });
    await enqueueRun(h.queue, { run_id: waiting.run_id, graph: 'abc' }, 600, 3_600_000);
    await h.redis.expire(h.keys.run(waiting.run_id), 5);
    const behind = Date.now() - 600_000;
    expect(await repairLiveRuns({ queue: h.queue, redis: h.redis, store: h.store, log, ttlSec: 600, keepLiveSec: 120 }, behind))
      .toEqual({ restored: 0, failed: 0, kept: 1 });
    expect(await h.redis.ttl(h.keys.run(waiting.run_id))).toBeGreaterThan(100);
    await (await h.queue.getJob(waiting.run_id))!.remove();
  });
});

describe('repair leaves runs a worker may still hold alone', () => {
  const h2 = harness();
  afterAll(() => h2.close());
  const repair2 = (nowMs: number) => repairLiveRuns({ queue: h2.queue, redis: h2.redis, store: h2.store, log, ttlSec: 600 }, nowMs);

  it('a running run whose job is active; one whose job vanished under it only once its record has been still RUNNING_QUIET_MS', async () => {
    // no worker of ours here: a bare BullMQ worker holds the job (active, locked) and the record is
    // claimed as a pass would claim it, so nothing is left running when the test ends
    const { record } = await h2.submit();
    const conn = h2.redis.duplicate({ maxRetriesPerRequest: null });
    const holder = new Worker(QUEUES.runs, null, { connection: conn, prefix: bullPrefix(h2.prefix), autorun: false });
    expect((await holder.getNextJob('holder-token', { block: false }))?.id).toBe(record.run_id);
    const claimed = { ...record, status: 'running' as const, lease: 'holder-token', attempt: 1, updated_at: new Date().toISOString() };
    expect((await h2.store.commit(record.run_id, { ifStatus: ['queued'], record: claimed })).ok).toBe(true);
    expect(await h2.queue.getJobState(record.run_id)).toBe('active');
    const later = Date.now() + REPAIR_GRACE_MS + 1;
    expect(await repair2(later)).toEqual({ restored: 0, failed: 0, kept: 0 });

    // Redis loses the job (a failover) while the worker may still be inside a node
    await h2.redis.del(h2.queue.toKey(record.run_id), `${h2.queue.toKey(record.run_id)}:lock`);
    await h2.redis.lrem(h2.queue.toKey('active'), 0, record.run_id);
    expect(await h2.queue.getJob(record.run_id)).toBeUndefined();
    expect(await repair2(later)).toEqual({ restored: 0, failed: 0, kept: 0 });
    const still = Date.parse(claimed.updated_at);
    expect(await repair2(still + RUNNING_QUIET_MS - 1)).toEqual({ restored: 0, failed: 0, kept: 0 });
    expect(await repair2(still + RUNNING_QUIET_MS + 1)).toEqual({ restored: 1, failed: 0, kept: 0 });
    expect(await h2.queue.getJobState(record.run_id)).toBe('waiting');
    await holder.close();
    await conn.quit();
  });
});
