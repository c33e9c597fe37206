import { afterAll, describe, expect, it } from '@jest/globals';
import { Worker } from 'bullmq';
import { QUEUES, type RunRecord } from '@sup/contracts';
import { bullPrefix, newRunRecord } from '@sup/queue';
import { REPAIR_GRACE_MS, repairLiveRuns } from '../src/repair.js';
import { capturedLog, harness, until } from './harness.js';

/**
 * When Redis loses the hash of an ACTIVE job (a failover, a crash between AOF syncs), BullMQ's stall
 * check does `HINCRBY <job> stc 1` on the missing key and moves the id back to `wait`: a "hollow"
 * job, a hash with nothing but `stc`. Found by the Cluster e2e test under load in CI (2026-11-29):
 * a worker failed the hollow job (no data), and housekeeping then took that failure for the run's
 * own and marked the run failed.
 */
const h = harness();
afterAll(() => h.close());
const { log, logs } = capturedLog();
const repair = () => repairLiveRuns({ queue: h.queue, redis: h.redis, store: h.store, log, ttlSec: 600 }, Date.now() + REPAIR_GRACE_MS + 1);

/** A queued run whose job a rogue worker took, then Redis lost the job hash and its lock; BullMQ's own stall check runs. */
async function hollowRun(): Promise<{ rec: RunRecord; rogue: Worker; close: () => Promise<void> }> {
  const rec = newRunRecord({ graph: 'abc', agentId: 'sofiia', input: {} });
  await h.store.create(rec, { events: [] });
  await h.queue.add('step', { run_id: rec.run_id, graph: 'abc' }, { jobId: rec.run_id });
  const conn = h.redis.duplicate({ maxRetriesPerRequest: null });
  const rogue = new Worker(QUEUES.runs, null, { connection: conn, prefix: bullPrefix(h.prefix), autorun: false, lockDuration: 60_000, stalledInterval: 100 });
  const job = await rogue.getNextJob('rogue-token', { block: false });
  expect(job?.id).toBe(rec.run_id);
  const key = h.queue.toKey(rec.run_id);
  await h.redis.del(key, `${key}:lock`);
  void rogue.startStalledCheckTimer();
  await until('the stall check put the hollow job back in wait', async () => (await h.queue.getJobState(rec.run_id)) === 'waiting');
  expect(await h.redis.hgetall(key)).toEqual({ stc: '1' });
  return { rec, rogue, close: async () => { await rogue.close(); await conn.quit(); } };
}

describe('a hollow job (its hash lost while active, re-created by the stall check)', () => {
  it('that failed is not taken for the run\'s job: housekeeping re-adds the job and leaves the run live', async () => {
    const { rec, rogue, close } = await hollowRun();
    // a worker that cannot read the hollow job fails it (what the workers did before this fix)
    const job = await rogue.getNextJob('rogue-2', { block: false });
    expect([job?.id, job?.data]).toEqual([rec.run_id, {}]);
    await job!.moveToFailed(new Error('job names no run'), 'rogue-2', false);
    await close();
    expect(await h.queue.getJobState(rec.run_id)).toBe('failed');

    expect(await repair()).toEqual({ restored: 1, failed: 0, kept: 0 });
    expect((await h.store.get(rec.run_id))!.status).toBe('queued');
    expect(logs.join('')).toMatch(new RegExp(`run_job_restored run=${rec.run_id} status=queued node=- reason=job_hollow`));
    const restored = (await h.queue.getJob(rec.run_id))!;
    expect([await restored.getState(), restored.data]).toEqual(['waiting', { run_id: rec.run_id, graph: 'abc' }]);
    // out of the way of the next case, which starts the workers
    await restored.remove();
    await h.store.remove(rec.run_id);
  });

  it('waiting is taken by a worker as its run\'s job (the id is the run id): the run resumes and succeeds', async () => {
    const { rec, close } = await hollowRun();
    await close();
    expect(await repair()).toEqual({ restored: 0, failed: 0, kept: 0 }); // a hollow job in wait will move its run
    await h.start();
    await h.gate.entered();
    h.gate.open();
    await until('succeeded', async () => (await h.store.get(rec.run_id))?.status === 'succeeded');
    expect((await h.store.get(rec.run_id))!.nodes.map((n) => n.node)).toEqual(['a', 'b', 'c']);
  });
});
