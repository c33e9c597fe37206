import { afterAll, describe, expect, it } from '@jest/globals';
import express from 'express';
import { ReplyError } from 'ioredis';
import request from 'supertest';
import { healthRoutes } from '../src/routes/health.js';
import { until } from '@sup/testkit';
import { testApp } from './helpers.js';

const secured = testApp({ apiKeys: ['k1', 'k2'] });
const down = testApp({}, 'redis://127.0.0.1:1');
afterAll(async () => {
  await secured.close();
  await down.close();
});

describe('API keys', () => {
  it('requires a Bearer key on every route but /healthz', async () => {
    expect((await request(secured.app).get('/healthz')).status).toBe(200);
    const none = await request(secured.app).get('/v1/graphs');
    expect(none.status).toBe(401);
    expect(none.body.error.code).toBe('unauthorized');
    expect(none.headers['www-authenticate']).toBe('Bearer');
    expect((await request(secured.app).get('/v1/graphs').set('Authorization', 'Bearer nope')).status).toBe(401);
    expect((await request(secured.app).get('/v1/graphs').set('Authorization', 'Bearer k2')).status).toBe(200);
    expect((await request(secured.app).post('/v1/graphs/release_check/runs').send({})).status).toBe(401);
  });

  it('an EventSource (no headers) cannot follow events with API_KEYS set: ?api_key= is for /admin only (docs/runs-api.md)', async () => {
    const run = await request(secured.app).post('/v1/graphs/release_check/runs').set('Authorization', 'Bearer k1')
      .send({ agent_id: 'sofiia', input: { service: 'billing', version: '1.0.0' } });
    const events = `/v1/runs/${run.body.run_id}/events`;
    for (const path of [events, `${events}?api_key=k1`]) {
      const res = await request(secured.app).get(path).set('Accept', 'text/event-stream');
      expect([path, res.status, res.body.error?.code]).toEqual([path, 401, 'unauthorized']);
    }
    const json = await request(secured.app).get(events).set('Authorization', 'Bearer k1');
    expect(json.status).toBe(200);
  });
});

describe('GET /healthz', () => {
  it('is the runbook JSON when Redis answers', async () => {
    const res = await request(secured.app).get('/healthz');
    expect(res.body).toEqual({ status: 'ok', service: 'sofiia-supervisor', graphs: expect.arrayContaining(['release_check']), state_backend: 'redis', gateway_url: 'http://router:8000' });
  });

  it('is 503 degraded when Redis answers but refuses writes (out of memory): no run could be accepted', async () => {
    const full = async () => { throw new ReplyError("OOM command not allowed when used memory > 'maxmemory'."); };
    const app = express().use(healthRoutes({ probeWrite: full, graphs: ['release_check'], gatewayUrl: 'http://router:8000', redisWarnings: () => [] }));
    const res = await request(app).get('/healthz');
    expect(res.status).toBe(503);
    expect(res.body).toMatchObject({ status: 'degraded', reason: expect.stringMatching(/^redis refuses writes: OOM command not allowed/) });
  });

  it('a probe that answers after its second (a Cluster retrying CLUSTERDOWN): the next /healthz says what it ended with', async () => {
    let fail!: (err: Error) => void;
    const probeWrite = () => new Promise((_, rej) => { fail = rej; });
    const app = express().use(healthRoutes({ probeWrite, graphs: [], gatewayUrl: 'http://router:8000', redisWarnings: () => [] }));
    const first = await request(app).get('/healthz');
    expect([first.status, first.body.reason]).toEqual([503, 'redis unreachable: no answer within 1 s']);
    fail(new Error('Too many Cluster redirections. Last error: CLUSTERDOWN The cluster is down'));
    await until('the late answer was kept', async () => {
      const next = await request(app).get('/healthz');
      return next.body.reason === "redis unreachable: no answer within 1 s (the last probe's answer: Too many Cluster redirections. Last error: CLUSTERDOWN The cluster is down)";
    }, 10_000, 10);
  });

  it('shows the gateway without user info (the route is public): http://host:port/path only', async () => {
    const probeWrite = async () => 'OK';
    const app = express().use(healthRoutes({ probeWrite, graphs: [], gatewayUrl: 'https://user:s3cret@gw.internal:8443/base', redisWarnings: () => [] }));
    const res = await request(app).get('/healthz');
    expect(res.body.gateway_url).toBe('https://gw.internal:8443/base');
    expect(res.text).not.toMatch(/s3cret|user/);
  });

  it('writes its probe key with a short expiry', async () => {
    await request(secured.app).get('/healthz');
    const ttl = await secured.redis.pttl(`${secured.prefix}write-probe`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(10_000);
  });

  it('is 503 degraded with the reason when Redis is unreachable', async () => {
    const res = await request(down.app).get('/healthz');
    expect(res.status).toBe(503);
    expect(res.body).toMatchObject({ status: 'degraded', service: 'sofiia-supervisor', state_backend: 'redis' });
    expect(res.body.reason).toMatch(/redis/i);
  });
});
