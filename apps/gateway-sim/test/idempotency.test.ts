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

  it('remembers a bounded number of keys: the oldest are forgotten (and run again), the recent still replay', async () => {
    const { app, state } = sim({ maxKeys: 10 });
    const append = (n: number) => call(app, 'incident_tool', 'append_event', { incident_id: 'inc_mem', type: 'note', text: `n${n}` }, { idempotency_key: `k${n}` });
    for (let n = 0; n < 25; n++) await append(n);
    expect(state.executed.size).toBeLessThanOrEqual(10);
    expect(state.answers.size).toBeLessThanOrEqual(10);
    const notes = async () => (await call(app, 'incident_tool', 'get', { incident_id: 'inc_mem' })).body.result.incident.timeline.filter((e: { type: string }) => e.type === 'note').length;
    await append(24); // recent: replayed
    expect(await notes()).toBe(25);
    await append(0); // forgotten: a new side effect
    expect(await notes()).toBe(26);
  });

  it('an incident keeps its newest 100 artifacts and 1 000 timeline events', async () => {
    const { app } = sim();
    for (let n = 0; n < 105; n++) {
      await call(app, 'incident_tool', 'attach_artifact', { incident_id: 'inc_many', name: `a${n}.md`, content_type: 'text/markdown', content: 'x' }, { idempotency_key: `a${n}` });
    }
    for (let n = 0; n < 1_003; n++) await call(app, 'incident_tool', 'append_event', { incident_id: 'inc_many', type: 'note', text: `t${n}` }, { idempotency_key: `t${n}` });
    const inc = (await call(app, 'incident_tool', 'get', { incident_id: 'inc_many' })).body.result.incident;
    expect([inc.artifacts.length, inc.artifacts[0].name, inc.artifacts.at(-1).name]).toEqual([100, 'a5.md', 'a104.md']);
    expect([inc.timeline.length, inc.timeline.at(-1).text]).toEqual([1_000, 't1002']);
  });
});
