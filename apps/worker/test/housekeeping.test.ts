import { randomBytes } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { afterAll, describe, expect, it } from '@jest/globals';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { createLogger } from '@sup/logging';
import { RunStore } from '@sup/run-store';
import { newRunRecord } from '@sup/queue';
import { housekeeping } from '../src/housekeeping.js';
import { REDIS_URL, until } from './harness.js';

const prefix = `t-hk-${randomBytes(4).toString('hex')}`;
const redis = new Redis(REDIS_URL);
const bull = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
const queue = new Queue('hk', { connection: bull, prefix });
const store = new RunStore({ redis, prefix: `${prefix}:`, ttlSec: 60 });
const log = createLogger({ service: 'worker-test', stream: new PassThrough().resume() });

afterAll(async () => {
  await queue.obliterate({ force: true });
  await queue.close();
  const ks = await redis.keys(`${prefix}*`);
  if (ks.length) await redis.del(...ks);
  await redis.quit();
  await bull.quit();
});

describe('housekeeping', () => {
  it('removes finished jobs older than the TTL (completed and failed), none younger', async () => {
    const workerConn = bull.duplicate();
    const worker = new Worker('hk', async (job) => {
      if (job.data.fail) throw new Error('no');
      return 'ok';
    }, { connection: workerConn, prefix });
    const jobs = await Promise.all([{}, {}, { fail: true }].map((data, i) => queue.add('j', data, { jobId: `j${i}`, attempts: 1 })));
    await until('all finished', async () => {
      const c = await queue.getJobCounts('completed', 'failed');
      return c.completed === 2 && c.failed === 1;
    });
    await worker.close();
    await workerConn.quit();
    const deps = { queues: [queue], store, log, now: Date.now, repairRuns: async () => ({ restored: 0, failed: 0, kept: 0 }) };
    // within the TTL: kept
    expect(await housekeeping({ ...deps, ttlSec: 3600 })).toMatchObject({ jobs: 0 });
    expect(await queue.getJob('j0')).toBeDefined();
    // past it (a TTL of 0 s, once the clock has moved past their finish)
    const finished = Math.max(...(await Promise.all(jobs.map(async (j) => (await queue.getJob(j.id!))!.finishedOn!))));
    await until('the clock past the last finish', async () => Date.now() > finished);
    expect(await housekeeping({ ...deps, ttlSec: 0 })).toMatchObject({ jobs: 3 });
    expect(await Promise.all(['j0', 'j1', 'j2'].map((id) => queue.getJob(id)))).toEqual([undefined, undefined, undefined]);
  });

  it('drops listing-index entries past the 2 × TTL window, keeps the rest', async () => {
    const old = newRunRecord({ graph: 'release_check', agentId: 'a', input: {} }, new Date(Date.now() - 121_000));
    const fresh = newRunRecord({ graph: 'release_check', agentId: 'a', input: {} }, new Date(Date.now() - 100_000));
    await store.create(old, { events: [] });
    await store.create(fresh, { events: [] });
    expect(await redis.zscore(store.keys.index, old.run_id)).not.toBeNull();
    expect(await housekeeping({ queues: [], store, ttlSec: 60, log, now: Date.now, repairRuns: async () => ({ restored: 3, failed: 2, kept: 4 }) })).toEqual({ jobs: 0, index: 1, orphans: 2, requeued: 3, kept: 4, long: 2 });
    expect(await redis.zscore(store.keys.index, old.run_id)).toBeNull();
    expect(await redis.zscore(store.keys.index, fresh.run_id)).not.toBeNull();
  });

  it('keeps a live run older than a TTL listable once the indexes trimmed it, also after it finished', async () => {
    const s = new RunStore({ redis, prefix: `${prefix}:long:`, ttlSec: 60 });
    const long = newRunRecord({ graph: 'release_check', agentId: 'a', input: {} }, new Date(Date.now() - 61_000));
    await s.create(long, { events: [] });
    const repairRuns = async () => ({ restored: 0, failed: 0, kept: 0 });
    expect(await housekeeping({ queues: [], store: s, ttlSec: 60, log, now: Date.now, repairRuns })).toMatchObject({ long: 1 });
    // a minute later a create trims the indexes (2 × TTL): the run is still listed, then finishes
    await s.create(newRunRecord({ graph: 'release_check', agentId: 'a', input: {} }, new Date(Date.now() + 60_000)), { events: [] });
    expect(await redis.zscore(s.keys.index, long.run_id)).toBeNull();
    expect(await s.commit(long.run_id, { ifStatus: ['queued'], record: { ...long, status: 'succeeded' } })).toMatchObject({ ok: true });
    for (const q of [{}, { agentId: 'a' }, { status: 'succeeded' as const }]) {
      expect([q, (await s.list({ ...q, limit: 10 })).runs.some((r) => r.run_id === long.run_id)]).toEqual([q, true]);
    }
    await redis.del(s.keys.run(long.run_id));
    expect(await housekeeping({ queues: [], store: s, ttlSec: 60, log, now: Date.now, repairRuns })).toMatchObject({ long: 0 });
    expect(await redis.zcard(s.keys.long)).toBe(0);
  });

  it('fills runs:live from the index on its first pass, before the repair looks at it; never again', async () => {
    const s = new RunStore({ redis, prefix: `${prefix}:fill:`, ttlSec: 60 });
    const older = newRunRecord({ graph: 'release_check', agentId: 'a', input: {} });
    await s.create(older, { events: [] });
    await redis.zrem(s.keys.live, older.run_id); // created by a version without runs:live
    const seen: Array<string | null> = [];
    const repairRuns = async () => {
      seen.push(await redis.zscore(s.keys.live, older.run_id));
      return { restored: 0, failed: 0, kept: 0 };
    };
    await housekeeping({ queues: [], store: s, ttlSec: 60, log, now: Date.now, repairRuns });
    expect(seen).toEqual([String(Date.parse(older.created_at))]);
    expect(await redis.exists(s.keys.liveFilled)).toBe(1);
    await redis.zrem(s.keys.live, older.run_id);
    await housekeeping({ queues: [], store: s, ttlSec: 60, log, now: Date.now, repairRuns });
    expect(seen[1]).toBeNull(); // filled once only: an entry the live set lost later is not re-added
  });
});
