import { afterAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { testApp } from './helpers.js';

const t = testApp();
afterAll(() => t.close());

describe('request ids and access log', () => {
  it('echoes a sane X-Request-Id, makes one otherwise, and logs it without query or body', async () => {
    const given = await request(t.app).get('/v1/graphs?api_key=secret-in-query').set('X-Request-Id', 'req-123');
    expect(given.headers['x-request-id']).toBe('req-123');
    const made = await request(t.app).post('/v1/graphs/release_check/runs').set('X-Request-Id', 'bad id with spaces').send({ agent_id: 'sofiia', input: { service: 'body-secret', version: '1' } });
    expect(made.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    const lines = t.logs.join('').split('\n').filter((l) => l.includes('http_request'));
    expect(lines.some((l) => /method=GET path=\/v1\/graphs status=200 elapsed_ms=\d+ request_id=req-123/.test(l))).toBe(true);
    expect(lines.some((l) => l.includes(`request_id=${made.headers['x-request-id']}`) && l.includes('status=202'))).toBe(true);
    expect(t.logs.join('')).not.toMatch(/secret-in-query|body-secret/);
  });

  it('logs the whole path of a request served by a router mounted on a prefix (bull-board)', async () => {
    await request(t.app).put('/admin/queues/api/queues/runs/pause').set('X-Request-Id', 'req-admin');
    await request(t.app).put('/admin/queues/api/queues/runs/resume');
    const line = t.logs.join('').split('\n').find((l) => l.includes('request_id=req-admin'));
    expect(line).toMatch(/method=PUT path=\/admin\/queues\/api\/queues\/runs\/pause status=\d+/);
  });
});
