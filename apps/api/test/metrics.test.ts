import { afterAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { graphs } from '@sup/graphs';
import { createLogger } from '@sup/logging';
import { createKeys, RunStore } from '@sup/run-store';
import { createApp } from '../src/app.js';
// the Prometheus text parser the end-to-end tests use
import { sample } from '../../../e2e/src/metrics.js';
import { testApp } from './helpers.js';

const open = testApp();
const secured = testApp({ apiKeys: ['k1'] });
const publicMetrics = testApp({ apiKeys: ['k1'], metricsPublic: true });
afterAll(async () => {
  await Promise.all([open.close(), secured.close(), publicMetrics.close()]);
});

async function submit(graph: string, input: Record<string, unknown>) {
  const res = await request(open.app).post(`/v1/graphs/${graph}/runs`).send({ agent_id: 'sofiia', input });
  expect(res.status).toBe(202);
  return res.body.run_id as string;
}

/** Ends a run the way a worker would: one compare-and-set into a final status. */
async function finish(id: string, status: 'succeeded' | 'failed') {
  const rec = (await open.store.get(id))!;
  const now = new Date().toISOString();
  expect((await open.store.commit(id, { ifStatus: ['queued'], record: { ...rec, status, finished_at: now, updated_at: now } })).ok).toBe(true);
}

describe('GET /metrics', () => {
  it('counts runs created and finished per graph and status, from Redis', async () => {
    const rc = [
      await submit('release_check', { service: 'billing', version: '1.0.0' }),
      await submit('release_check', { service: 'billing', version: '1.0.1' }),
      await submit('release_check', { service: 'billing', version: '1.0.2' }),
    ];
    const tri = await submit('incident_triage', { service: 'billing' });
    await finish(rc[0]!, 'succeeded');
    await finish(rc[1]!, 'failed');
    // a queued run cancelled through the API: a cancel, not a failure
    expect((await request(open.app).post(`/v1/runs/${tri}/cancel`).send({})).status).toBe(202);

    const res = await request(open.app).get('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    const t = res.text;
    expect(sample(t, 'sup_runs_created_total', { graph: 'release_check' })).toBe(3);
    expect(sample(t, 'sup_runs_created_total', { graph: 'incident_triage' })).toBe(1);
    expect(sample(t, 'sup_runs_finished_total', { graph: 'release_check', status: 'succeeded' })).toBe(1);
    expect(sample(t, 'sup_runs_finished_total', { graph: 'release_check', status: 'failed' })).toBe(1);
    expect(sample(t, 'sup_runs_finished_total', { graph: 'incident_triage', status: 'cancelled' })).toBe(1);
    expect(sample(t, 'sup_runs_finished_total', { graph: 'incident_triage', status: 'failed' })).toBeUndefined();
    // three jobs still wait (finishing a record does not touch its job); the cancel removed one
    expect(sample(t, 'sup_queue_jobs', { queue: 'runs', state: 'waiting' })).toBe(3);
    expect(sample(t, 'sup_queue_jobs', { queue: 'runs', state: 'active' })).toBe(0);
    // the API's own process metrics come along
    expect(sample(t, 'process_cpu_user_seconds_total')).toBeGreaterThanOrEqual(0);

    // another API process (a second app with its own registry, same Redis) answers the same numbers
    await finish(rc[2]!, 'succeeded');
    const other = createApp({
      redis: open.redis, store: new RunStore({ redis: open.redis, prefix: open.prefix, ttlSec: 3600 }), queue: open.queue, graphs,
      log: createLogger({ service: 'api-test', level: 'error' }), cancelChannel: createKeys(open.prefix).cancelChannel,
      config: { apiKeys: [], bodyLimitKb: 16, gatewayUrl: 'http://router:8000', ttlSec: 3600, metricsPublic: false },
    });
    const again = (await request(other).get('/metrics')).text;
    expect(sample(again, 'sup_runs_created_total', { graph: 'release_check' })).toBe(3);
    expect(sample(again, 'sup_runs_finished_total', { graph: 'release_check', status: 'succeeded' })).toBe(2);
  });

  it('needs the API key unless METRICS_PUBLIC=true', async () => {
    const none = await request(secured.app).get('/metrics');
    expect(none.status).toBe(401);
    expect(none.body.error.code).toBe('unauthorized');
    expect((await request(secured.app).get('/metrics').set('Authorization', 'Bearer wrong')).status).toBe(401);
    expect((await request(secured.app).get('/metrics').set('Authorization', 'Bearer k1')).status).toBe(200);

    const pub = await request(publicMetrics.app).get('/metrics');
    expect(pub.status).toBe(200);
    expect(pub.text).toContain('# TYPE sup_runs_created_total counter');
    // public metrics open nothing else
    expect((await request(publicMetrics.app).get('/v1/graphs')).status).toBe(401);
    expect((await request(publicMetrics.app).get('/admin/queues')).status).toBe(401);
  });
});
