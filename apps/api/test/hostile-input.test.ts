import { afterAll, describe, expect, it } from '@jest/globals';
import express from 'express';
import { ReplyError } from 'ioredis';
import request from 'supertest';
import { createLogger } from '@sup/logging';
import { errorHandler } from '../src/errors.js';
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

  it('answers 503 too while Redis answers but takes no writes (failover, too few replicas, loading, disk errors, a busy script), and 500 for other Redis errors', async () => {
    const app = express();
    app.get('/err/:msg', (req) => { throw new ReplyError(req.params.msg); });
    app.use(errorHandler(createLogger({ service: 'test', level: 'error' })));
    for (const msg of [
      'NOREPLICAS Not enough good replicas to write.', "READONLY You can't write against a read only replica.",
      'LOADING Redis is loading the dataset in memory', 'MASTERDOWN Link with MASTER is down', 'CLUSTERDOWN The cluster is down',
      'MISCONF Errors writing to the AOF file: No space left on device', 'BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.',
      'ERR Error running script (call to f_x): @user_script:12: NOREPLICAS Not enough good replicas to write.',
    ]) {
      const res = await request(app).get(`/err/${encodeURIComponent(msg)}`);
      expect([msg, res.status, res.body.error.code, res.headers['retry-after']]).toEqual([msg, 503, 'redis_unavailable', '1']);
    }
    const other = await request(app).get(`/err/${encodeURIComponent('WRONGTYPE Operation against a key holding the wrong kind of value')}`);
    expect(other.status).toBe(500);
  });

  it('answers 503 with reason out_of_memory (Retry-After 5) while Redis is at maxmemory, also when the refusal ends a MULTI (chaos/redis-oom.ts)', async () => {
    const oom = "OOM command not allowed when used memory > 'maxmemory'. script: 5ab4, on @user_script:589.";
    const app = express();
    app.get('/script', () => { throw new ReplyError(oom); });
    app.get('/multi/:prev', (req) => {
      throw Object.assign(new ReplyError('EXECABORT Transaction discarded because of previous errors.'), { previousErrors: [new ReplyError(req.params.prev)] });
    });
    app.use(errorHandler(createLogger({ service: 'test', level: 'error' })));
    for (const path of ['/script', `/multi/${encodeURIComponent(oom)}`]) {
      const res = await request(app).get(path);
      expect([path, res.status, res.body.error, res.headers['retry-after']]).toEqual([path, 503, expect.objectContaining({ code: 'redis_unavailable', details: { reason: 'out_of_memory' } }), '5']);
      expect(res.body.error.message).toMatch(/out of memory/);
    }
    // a MULTI aborted by a mistake of ours is not Redis being unavailable
    const wrong = await request(app).get(`/multi/${encodeURIComponent('ERR wrong number of arguments')}`);
    expect(wrong.status).toBe(500);
  });
});
