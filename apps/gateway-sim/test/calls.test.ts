import { describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { call, sim } from './helpers.js';

describe('call recording', () => {
  it('records every call, filters by run_id/tool/action, hides params unless full=1', async () => {
    const { app } = sim();
    await call(app, 'kb_tool', 'search', { query: 'latency', limit: 2 }, { run_id: 'gr_a', node: 'kb', idempotency_key: 'gr_a:kb:0' });
    await call(app, 'observability_tool', 'health', { service: 'checkout' }, { run_id: 'gr_a', node: 'health' });
    await call(app, 'observability_tool', 'health', { service: 'search' }, { run_id: 'gr_b', node: 'health' });

    const all = (await request(app).get('/_sim/calls').expect(200)).body.calls;
    expect(all).toHaveLength(3);
    expect(all[0]).toEqual({
      seq: 1,
      ts: '2026-03-01T12:00:00.000Z',
      tool: 'kb_tool',
      action: 'search',
      run_id: 'gr_a',
      node: 'kb',
      agent_id: 'sofiia',
      idempotency_key: 'gr_a:kb:0',
      duplicate: false,
      aborted: false,
      status: 200,
      outcome: 'ok',
      fault: null,
      executed: true,
      latency_ms: 0,
    });
    expect((await request(app).get('/_sim/calls?run_id=gr_a')).body.calls.map((c: { seq: number }) => c.seq)).toEqual([1, 2]);
    expect((await request(app).get('/_sim/calls?tool=observability_tool&action=health')).body.calls.map((c: { run_id: string }) => c.run_id)).toEqual(['gr_a', 'gr_b']);
    expect((await request(app).get('/_sim/calls?since_seq=2')).body.calls.map((c: { seq: number }) => c.seq)).toEqual([3]);
    const full = (await request(app).get('/_sim/calls?full=1&run_id=gr_b')).body.calls;
    expect(full[0].params).toEqual({ service: 'search' });

    const stats = (await request(app).get('/_sim/stats').expect(200)).body;
    expect(stats).toEqual(
      expect.objectContaining({
        total: 3,
        duplicates: 0,
        aborted: 0,
        by_tool_action: expect.objectContaining({ 'observability_tool.health': expect.objectContaining({ calls: 2, by_status: { '200': 2 } }) }),
      }),
    );

    await request(app).delete('/_sim/calls').expect(204);
    expect((await request(app).get('/_sim/calls')).body.calls).toEqual([]);
    await call(app, 'kb_tool', 'search', { query: 'x' });
    expect((await request(app).get('/_sim/calls')).body.calls[0].seq).toBe(4);
  });

  it('POST /_sim/reset forgets calls, jobs, incidents and config changes', async () => {
    const { app, state } = sim();
    await call(app, 'job_orchestrator_tool', 'start_task', { task: 'release_check', service: 's', version: '1' });
    await request(app).patch('/_sim/config').send({ latencyMs: 3 }).expect(200);
    await request(app).post('/_sim/reset').expect(204);
    expect(state.stores.jobs.size).toBe(0);
    expect(state.calls.list()).toEqual([]);
    expect((await request(app).get('/_sim/config')).body.latencyMs).toBe(0);
  });

  it('unknown routes answer JSON 404', async () => {
    const { app } = sim();
    const r = await request(app).get('/nope').expect(404);
    expect(r.body.error.code).toBe('not_found');
  });
});
