import { describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { call, sim } from './helpers.js';

async function start(app: Parameters<typeof call>[0], version: string, checks?: string[]) {
  const r = await call(app, 'job_orchestrator_tool', 'start_task', { task: 'release_check', service: 'checkout', version, ...(checks ? { checks } : {}) });
  expect(r.body.ok).toBe(true);
  return r.body.result.job_id as string;
}
const get = async (app: Parameters<typeof call>[0], job_id: string) => (await call(app, 'job_orchestrator_tool', 'get_task', { job_id })).body;

describe('release-check job lifecycle (injected clock)', () => {
  it('queued → running → succeeded with the default checks', async () => {
    const { app, clock } = sim({ config: { jobDurationMs: 1000 } });
    const id = await start(app, '1.0.0');
    expect((await get(app, id)).result.status).toBe('queued');
    clock.advance(99);
    expect((await get(app, id)).result.status).toBe('queued');
    clock.advance(1);
    expect((await get(app, id)).result.status).toBe('running');
    clock.advance(500);
    const mid = (await get(app, id)).result;
    expect(mid.status).toBe('running');
    expect(mid.checks.length).toBeGreaterThan(0);
    expect(mid.checks.length).toBeLessThan(4);
    clock.advance(400);
    const done = (await get(app, id)).result;
    expect(done.status).toBe('succeeded');
    expect(done.checks.map((c: { name: string }) => c.name)).toEqual(['unit', 'integration', 'security', 'migrations']);
    for (const c of done.checks) expect(c).toEqual({ name: expect.any(String), status: 'pass', detail: expect.any(String) });
  });

  it('params.checks, a check named *fail* fails, a "bad" version fails every check', async () => {
    const { app, clock } = sim({ config: { jobDurationMs: 10 } });
    const a = await start(app, '2.0.0', ['lint', 'will_fail']);
    const b = await start(app, '2.0.0-bad');
    clock.advance(10);
    const ra = (await get(app, a)).result;
    expect(ra.status).toBe('succeeded');
    expect(ra.checks.map((c: { status: string }) => c.status)).toEqual(['pass', 'fail']);
    const rb = (await get(app, b)).result;
    expect(rb.status).toBe('succeeded');
    expect(rb.checks.every((c: { status: string }) => c.status === 'fail')).toBe(true);
  });

  it('a "crash" version ends failed', async () => {
    const { app, clock } = sim({ config: { jobDurationMs: 10 } });
    const id = await start(app, '3.0.0-crash');
    clock.advance(10);
    const r = (await get(app, id)).result;
    expect(r.status).toBe('failed');
    expect(r.error).toEqual(expect.any(String));
  });

  it('cancel_task cancels a running job; finished jobs stay finished', async () => {
    const { app, clock } = sim({ config: { jobDurationMs: 100 } });
    const id = await start(app, '1.0.0');
    clock.advance(50);
    const c = await call(app, 'job_orchestrator_tool', 'cancel_task', { job_id: id });
    expect(c.body.result).toEqual(expect.objectContaining({ job_id: id, status: 'cancelled' }));
    clock.advance(1000);
    expect((await get(app, id)).result.status).toBe('cancelled');

    const done = await start(app, '1.0.1');
    clock.advance(100);
    const c2 = await call(app, 'job_orchestrator_tool', 'cancel_task', { job_id: done });
    expect(c2.body.result).toEqual(expect.objectContaining({ status: 'succeeded', cancelled: false }));
  });

  it('unknown job_id → ok:false not_found', async () => {
    const { app } = sim();
    for (const action of ['get_task', 'cancel_task']) {
      const r = await call(app, 'job_orchestrator_tool', action, { job_id: 'job_nope' });
      expect(r.status).toBe(200);
      expect(r.body).toEqual({ ok: false, error: expect.objectContaining({ code: 'not_found' }) });
    }
  });

  it('a job keeps the duration it started with; GET /_sim/jobs lists jobs', async () => {
    const { app, clock } = sim({ config: { jobDurationMs: 100 } });
    const id = await start(app, '1.0.0');
    await request(app).patch('/_sim/config').send({ jobDurationMs: 100000 }).expect(200);
    clock.advance(100);
    expect((await get(app, id)).result.status).toBe('succeeded');
    const jobs = await request(app).get('/_sim/jobs').expect(200);
    expect(jobs.body.jobs).toEqual([expect.objectContaining({ job_id: id, status: 'succeeded', duration_ms: 100 })]);
  });
});
