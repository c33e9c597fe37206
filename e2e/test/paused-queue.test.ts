import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { until } from '../src/procs.js';
import { System } from '../src/system.js';

/**
 * A run waits for a worker as long as it must: with `runs` paused in the dashboard (or a backlog,
 * or every worker down) for longer than RUN_TTL_SEC, its record used to expire from under its job —
 * the run was gone (`run_missing`), no failure, no webhook. Housekeeping now keeps it alive.
 */
describe('a run queued longer than RUN_TTL_SEC', () => {
  const ttl = { RUN_TTL_SEC: '60' };
  const sys = new System({ workers: 1, apiEnv: ttl, workerEnv: { ...ttl, HOUSEKEEPING_EVERY_SEC: '1' } });
  beforeAll(() => sys.start());
  afterAll(() => sys.stop());

  it('keeps its record and events while the queue is paused, and runs once resumed', async () => {
    expect((await sys.api('PUT', '/admin/queues/api/queues/runs/pause')).status).toBe(200);
    const res = await sys.api('POST', '/v1/graphs/incident_triage/runs', { agent_id: 'sofiia', input: { service: 'billing' } }, { 'Idempotency-Key': 'paused-1' });
    expect(res.status).toBe(202);
    const id = res.body.run_id as string;
    const keys = [`${sys.prefix}run:${id}`, `${sys.prefix}run:${id}:events`];
    // created with RUN_TTL_SEC (60 s) ahead; housekeeping (every 1 s here) keeps 3 passes + 60 s = 63 s ahead
    await until('housekeeping raised the expiry of the waiting run', async () => (await Promise.all(keys.map((k) => sys.redis.ttl(k)))).every((t) => t > 60), 30_000);
    // the pass that raised it says so when it ends
    await sys.workers[0]!.waitFor(/housekeeping .*waiting_runs_kept=[1-9]/);
    expect((await sys.api('PUT', '/admin/queues/api/queues/runs/resume')).status).toBe(200);
    const done = await sys.waitStatus(id, ['succeeded', 'failed', 'cancelled']);
    expect(done.status).toBe('succeeded');
    // finished, it expires RUN_TTL_SEC after its last write again
    expect(await sys.redis.ttl(keys[0]!)).toBeLessThanOrEqual(60);
  });
});
