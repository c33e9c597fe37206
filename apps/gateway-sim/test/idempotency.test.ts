import { describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { call, sim } from './helpers.js';

describe('idempotency keys', () => {
  it('append_event twice with the same key → one event, the first answer replayed, flagged duplicate', async () => {
    const { app } = sim();
    const p = { incident_id: 'inc_idem', type: 'followup', text: 'add alert' };
    const a = await call(app, 'incident_tool', 'append_event', p, { idempotency_key: 'gr_1:followups:0' });
    const b = await call(app, 'incident_tool', 'append_event', p, { idempotency_key: 'gr_1:followups:0' });
    expect(b.status).toBe(a.status);
    expect(b.body).toEqual(a.body);
    const inc = (await call(app, 'incident_tool', 'get', { incident_id: 'inc_idem' })).body.result.incident;
    expect(inc.timeline.filter((e: { type: string }) => e.type === 'followup')).toHaveLength(1);
    const calls = (await request(app).get('/_sim/calls?action=append_event')).body.calls;
    expect(calls.map((c: { duplicate: boolean; outcome: string }) => [c.duplicate, c.outcome])).toEqual([
      [false, 'ok'],
      [true, 'replayed'],
    ]);
    // a different key is a new side effect
    await call(app, 'incident_tool', 'append_event', p, { idempotency_key: 'gr_1:followups:1' });
    const inc2 = (await call(app, 'incident_tool', 'get', { incident_id: 'inc_idem' })).body.result.incident;
    expect(inc2.timeline.filter((e: { type: string }) => e.type === 'followup')).toHaveLength(2);
  });

  it('start_task and attach_artifact are not executed twice', async () => {
    const { app, state } = sim();
    const params = { task: 'release_check', service: 'checkout', version: '1.0.0' };
    const a = await call(app, 'job_orchestrator_tool', 'start_task', params, { idempotency_key: 'same' });
    const b = await call(app, 'job_orchestrator_tool', 'start_task', params, { idempotency_key: 'same' });
    expect(b.body.result.job_id).toBe(a.body.result.job_id);
    expect(state.stores.jobs.size).toBe(1);
    const art = { incident_id: 'inc_a', name: 'x.md', content_type: 'text/markdown', content: 'x' };
    await call(app, 'incident_tool', 'attach_artifact', art, { idempotency_key: 'art' });
    await call(app, 'incident_tool', 'attach_artifact', art, { idempotency_key: 'art' });
    expect(state.stores.incidents.get('inc_a')!.artifacts).toHaveLength(1);
  });

  it('reads are flagged as duplicates but recomputed', async () => {
    const { app, clock } = sim({ config: { jobDurationMs: 10 } });
    const job_id = (await call(app, 'job_orchestrator_tool', 'start_task', { task: 'release_check', service: 's', version: '1' })).body.result.job_id;
    const a = await call(app, 'job_orchestrator_tool', 'get_task', { job_id }, { idempotency_key: 'poll' });
    clock.advance(10);
    const b = await call(app, 'job_orchestrator_tool', 'get_task', { job_id }, { idempotency_key: 'poll' });
    expect(a.body.result.status).toBe('queued');
    expect(b.body.result.status).toBe('succeeded');
    const calls = (await request(app).get('/_sim/calls?action=get_task')).body.calls;
    expect(calls.map((c: { duplicate: boolean }) => c.duplicate)).toEqual([false, true]);
  });

  it('a call that got an injected 5xx did not execute, so its retry is not a duplicate', async () => {
    const { app, state } = sim({ config: { fail5xxRate: 1 } });
    const p = { incident_id: 'inc_r', type: 't', text: 'x' };
    const a = await call(app, 'incident_tool', 'append_event', p, { idempotency_key: 'r' });
    expect(a.status).toBeGreaterThanOrEqual(500);
    await request(app).patch('/_sim/config').send({ fail5xxRate: 0 }).expect(200);
    const b = await call(app, 'incident_tool', 'append_event', p, { idempotency_key: 'r' });
    expect(b.body.ok).toBe(true);
    const calls = state.calls.list({ action: 'append_event' });
    expect(calls.map((c) => [c.executed, c.duplicate])).toEqual([
      [false, false],
      [true, false],
    ]);
  });
});
