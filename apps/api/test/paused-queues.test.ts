import { afterAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
// the Prometheus text parser the end-to-end tests use
import { sample } from '../../../e2e/src/metrics.js';
import { scheduledApp } from './helpers.js';

// bull-board's pause (PUT /admin/queues/api/queues/<name>/pause) is Queue#pause
const t = scheduledApp('api-paused', []);
afterAll(() => t.close());

const nightly = { id: 'nightly', graph: 'release_check', cron: '0 2 * * *', agent_id: 'sofiia', input: { service: 'billing', version: '1.0.0' } };

describe('a queue paused in bull-board', () => {
  it('shows in /healthz warnings (still 200 ok), in sup_queue_paused and as paused on schedule GETs, until resumed', async () => {
    await request(t.app).post('/v1/schedules').send(nightly).expect(201);
    const healthy = await request(t.app).get('/healthz');
    expect(healthy.status).toBe(200);
    expect(healthy.body.warnings).toBeUndefined();
    expect((await request(t.app).get('/v1/schedules/nightly')).body.paused).toBe(false);
    let metrics = (await request(t.app).get('/metrics')).text;
    expect(sample(metrics, 'sup_queue_paused', { queue: 'runs' })).toBe(0);
    expect(sample(metrics, 'sup_queue_paused', { queue: 'schedules' })).toBe(0);

    await t.queue.pause();
    await t.scheduleQueue.pause();
    const health = await request(t.app).get('/healthz');
    expect(health.status).toBe(200);
    expect(health.body.status).toBe('ok');
    expect(health.body.warnings).toEqual([
      'queue runs is paused (bull-board, /admin/queues): no run starts or resumes until it is resumed',
      'queue schedules is paused (bull-board, /admin/queues): no schedule fires (next_fire_at passes by) until it is resumed',
    ]);
    metrics = (await request(t.app).get('/metrics')).text;
    expect(sample(metrics, 'sup_queue_paused', { queue: 'runs' })).toBe(1);
    expect(sample(metrics, 'sup_queue_paused', { queue: 'schedules' })).toBe(1);
    expect((await request(t.app).get('/v1/schedules/nightly')).body.paused).toBe(true);
    expect((await request(t.app).get('/v1/schedules')).body.schedules).toEqual([expect.objectContaining({ id: 'nightly', paused: true })]);

    await t.queue.resume();
    await t.scheduleQueue.resume();
    expect((await request(t.app).get('/healthz')).body.warnings).toBeUndefined();
    metrics = (await request(t.app).get('/metrics')).text;
    expect(sample(metrics, 'sup_queue_paused', { queue: 'runs' })).toBe(0);
    expect((await request(t.app).get('/v1/schedules/nightly')).body.paused).toBe(false);
  });
});
