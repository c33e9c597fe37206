import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { System } from '../src/system.js';

describe('a parked run holds no worker slot', () => {
  const sys = new System({ workers: 1, workerEnv: { WORKER_CONCURRENCY: '1' }, simEnv: { SIM_JOB_DURATION_MS: '60000' } });
  beforeAll(() => sys.start());
  afterAll(() => sys.stop());

  it('a 60 s release check does not block a second run on a worker with concurrency 1', async () => {
    const slow = await sys.submit('release_check', { service: 'slow', version: '1.0.0' });
    const parked = await sys.waitStatus(slow, ['waiting']);
    // the record says why it waits and when it polls next
    expect(parked.waiting).toEqual({ reason: 'job_running', until: expect.any(String), job_id: expect.stringMatching(/^job_/) });
    expect(Date.parse(parked.waiting.until)).toBeGreaterThan(Date.parse(parked.updated_at));
    await sys.simApi('PATCH', '/_sim/config', { jobDurationMs: 300 });
    const fast = await sys.submit('release_check', { service: 'fast', version: '1.0.0' });
    const done = await sys.waitStatus(fast, ['succeeded', 'failed']);
    expect(done.status).toBe('succeeded');
    // the slow one is unfinished (parked, or being polled this very moment), and it kept polling meanwhile
    const still = await sys.run(slow);
    expect(['waiting', 'running']).toContain(still.status);
    expect(still.nodes.find((n: any) => n.node === 'poll_job').tool_calls).toBeGreaterThanOrEqual(2);
    const cancel = await sys.api('POST', `/v1/runs/${slow}/cancel`, {});
    expect(cancel.status).toBe(202);
    const over = await sys.waitStatus(slow, ['cancelled']);
    expect(over.status).toBe('cancelled');
    expect(over.waiting).toBeUndefined();
  });
});
