import { afterAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { testApp } from './helpers.js';

// regressions found by chaos/bad-input.ts and chaos/redis-restart.ts
const up = testApp({});
const down = testApp({}, 'redis://127.0.0.1:1');
afterAll(async () => {
  await up.close();
  await down.close();
});

describe('hostile input', () => {
  it('answers 400 to JSON nested deeper than 64 levels (storing it would overflow JSON.stringify: was a 500)', async () => {
    const body = `{"agent_id":"a","input":{"service":"s","version":"1"},"metadata":{"m":${'['.repeat(6_000)}${']'.repeat(6_000)}}}`;
    const res = await request(up.app).post('/v1/graphs/release_check/runs').set('content-type', 'application/json').send(body);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('body_too_deep');
  });

  it('still takes reasonably nested metadata', async () => {
    const res = await request(up.app).post('/v1/graphs/release_check/runs')
      .send({ agent_id: 'a', input: { service: 's', version: '1' }, metadata: { a: { b: { c: [1, [2, [3]]] } } } });
    expect(res.status).toBe(202);
  });

  it('answers 503 redis_unavailable with Retry-After, not 500, when Redis cannot be reached', async () => {
    const res = await request(down.app).post('/v1/graphs/release_check/runs').send({ agent_id: 'a', input: { service: 's', version: '1' } });
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe('redis_unavailable');
    expect(res.headers['retry-after']).toBe('1');
  });
});
