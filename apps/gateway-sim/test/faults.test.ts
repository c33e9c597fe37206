import { describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { body, call, sim } from './helpers.js';

const health = (app: Parameters<typeof call>[0]) => call(app, 'observability_tool', 'health', { service: 'checkout' });

describe('auth and fault injection', () => {
  it('SIM_API_KEY: bearer required on /v1, not on /healthz', async () => {
    const { app } = sim({ apiKey: 's3cret' });
    const none = await health(app);
    expect(none.status).toBe(401);
    expect(none.body).toEqual({ ok: false, error: expect.objectContaining({ code: 'unauthorized' }) });
    const wrong = await request(app).post('/v1/tools/execute').set('Authorization', 'Bearer nope').send(body('observability_tool', 'health', { service: 'x' }));
    expect(wrong.status).toBe(401);
    const good = await request(app).post('/v1/tools/execute').set('Authorization', 'Bearer s3cret').send(body('observability_tool', 'health', { service: 'x' }));
    expect(good.status).toBe(200);
    expect(good.body.ok).toBe(true);
    await request(app).get('/healthz').expect(200, { status: 'ok', service: 'gateway-sim', test_double: true });
  });

  it('forceStatus 401 answers every call with 401 JSON, and is recorded', async () => {
    const { app, state } = sim({ config: { forceStatus: 401 } });
    const r = await health(app);
    expect(r.status).toBe(401);
    expect(r.body).toEqual({ ok: false, error: expect.objectContaining({ code: 'unauthorized' }) });
    expect(state.calls.list()).toEqual([expect.objectContaining({ status: 401, outcome: 'forced', fault: 'forced', executed: false })]);
    await request(app).patch('/_sim/config').send({ forceStatus: null }).expect(200);
    expect((await health(app)).status).toBe(200);
  });

  it('rate429 answers 429 with Retry-After', async () => {
    const { app } = sim({ config: { rate429: 1, retryAfterSec: 7 } });
    const r = await health(app);
    expect(r.status).toBe(429);
    expect(r.headers['retry-after']).toBe('7');
    expect(r.body).toEqual({ ok: false, error: expect.objectContaining({ code: 'rate_limited' }) });
  });

  it('fail5xxRate 1 answers 5xx JSON', async () => {
    const { app } = sim({ config: { fail5xxRate: 1 } });
    const r = await health(app);
    expect([500, 502, 503]).toContain(r.status);
    expect(r.body.ok).toBe(false);
  });

  it('faults are reproducible for a seed', async () => {
    const run = async (seed: string) => {
      const { app } = sim({ seed, config: { fail5xxRate: 0.3, rate429: 0.2 } });
      const out: number[] = [];
      for (let i = 0; i < 30; i++) out.push((await health(app)).status);
      return out;
    };
    const a = await run('seed-a');
    expect(await run('seed-a')).toEqual(a);
    expect(a.some((s) => s !== 200)).toBe(true);
    expect(a.some((s) => s === 200)).toBe(true);
    expect(await run('seed-b')).not.toEqual(a);
  });

  it('malformed override answers 200 ok:true with the wrong shape, only for that action', async () => {
    const { app } = sim();
    await request(app).patch('/_sim/config').send({ malformed: { 'observability_tool.health': true } }).expect(200);
    const r = await health(app);
    expect(r.status).toBe(200);
    expect(r.body.ok).toBe(true);
    expect(typeof r.body.result.status).not.toBe('string');
    expect(Array.isArray(r.body.result.checks)).toBe(false);
    const other = await call(app, 'observability_tool', 'slo_status', { service: 'checkout' });
    expect(Array.isArray(other.body.result.slos)).toBe(true);
    await request(app).patch('/_sim/config').send({ malformed: { 'observability_tool.health': null } }).expect(200);
    expect(typeof (await health(app)).body.result.status).toBe('string');
  });

  it('bad body → 400 JSON (schema and unparsable JSON), recorded as bad_request', async () => {
    const { app, state } = sim();
    const r = await request(app).post('/v1/tools/execute').send({ tool: 'kb_tool', action: 'search' });
    expect(r.status).toBe(400);
    expect(r.body).toEqual({ ok: false, error: expect.objectContaining({ code: 'bad_request', details: expect.anything() }) });
    const j = await request(app).post('/v1/tools/execute').set('Content-Type', 'application/json').send('{"tool":');
    expect(j.status).toBe(400);
    expect(j.body.ok).toBe(false);
    expect(j.text).not.toMatch(/<html|at .*\.js/);
    expect(state.calls.list().map((c) => c.outcome)).toEqual(['bad_request', 'bad_request']);
  });

  it('PATCH /_sim/config validates and merges', async () => {
    const { app } = sim();
    await request(app).patch('/_sim/config').send({ fail5xxRate: 2 }).expect(400);
    await request(app).patch('/_sim/config').send({ nope: 1 }).expect(400);
    await request(app).patch('/_sim/config').send({ latencyByTool: { 'kb_tool.search': 5 } }).expect(200);
    const r = await request(app).patch('/_sim/config').send({ latencyByTool: { 'cost_tool': 7 }, latencyMs: 1 }).expect(200);
    expect(r.body).toEqual(expect.objectContaining({ latencyMs: 1, latencyByTool: { 'kb_tool.search': 5, cost_tool: 7 } }));
    const g = await request(app).get('/_sim/config').expect(200);
    expect(g.body).toEqual(r.body);
  });

  it('an injected hang ends with 504 after hangMaxMs (when set)', async () => {
    const { app, state } = sim({ config: { timeoutRate: 1, hangMaxMs: 1 } });
    const r = await health(app);
    expect(r.status).toBe(504);
    expect(r.body.error.code).toBe('gateway_timeout');
    expect(state.calls.list()[0]).toEqual(expect.objectContaining({ fault: 'timeout', outcome: 'timeout', executed: false }));
  });

  it('forceStatus accepts error statuses only', async () => {
    const { app } = sim();
    await request(app).patch('/_sim/config').send({ forceStatus: 200 }).expect(400);
    await request(app).patch('/_sim/config').send({ forceStatus: 503 }).expect(200);
    expect((await health(app)).status).toBe(503);
  });
});
