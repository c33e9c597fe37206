import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { event, WEBHOOK_JOB_NAME, type RunRecord } from '@sup/contracts';
import { newRunRecord } from '@sup/queue';
import { testApp } from './helpers.js';

const t = testApp();
afterAll(() => t.close());

const rc = { service: 'billing', version: '1.0.0' };
const post = (graph: string, body: object) => request(t.app).post(`/v1/graphs/${graph}/runs`).send(body);

/** Walks `next_cursor` to the end; returns every run id in the order served. */
async function walk(query: string): Promise<{ ids: string[]; pages: number }> {
  const ids: string[] = [];
  let cursor: string | null = null;
  for (let pages = 1; pages < 200; pages++) {
    const res = await request(t.app).get(`/v1/runs?${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    expect(res.status).toBe(200);
    ids.push(...res.body.runs.map((r: { run_id: string }) => r.run_id));
    cursor = res.body.next_cursor;
    if (!cursor) return { ids, pages };
  }
  throw new Error('the cursor walk does not end');
}

const newestFirst = (recs: RunRecord[]) =>
  [...recs].sort((a, b) => Date.parse(b.created_at) - Date.parse(a.created_at) || (a.run_id < b.run_id ? 1 : -1)).map((r) => r.run_id);

describe('GET /v1/runs', () => {
  const all: RunRecord[] = [];
  let cancelled: string[] = [];
  let parentId = '';

  beforeAll(async () => {
    for (let i = 0; i < 12; i++) all.push((await post('release_check', { agent_id: i % 2 ? 'sofiia' : 'ops', input: rc })).body);
    for (let i = 0; i < 4; i++) all.push((await post('incident_triage', { agent_id: 'ops', input: { service: 'billing' } })).body);
    // runs created in the same millisecond, as a burst of submits (or schedule ticks) produces them
    const burst = new Date();
    for (let i = 0; i < 9; i++) {
      const rec = newRunRecord({ graph: 'release_check', agentId: 'burst', input: rc, trigger: { type: 'schedule', schedule_id: 'nightly' } }, burst);
      expect((await t.store.create(rec, { events: [event('run_created')] })).created).toBe(true);
      all.push(rec);
    }
    parentId = all[0]!.run_id;
    for (let i = 0; i < 2; i++) {
      const child = newRunRecord({ graph: 'incident_triage', agentId: 'ops', input: { service: 'billing' }, parentRunId: parentId });
      await t.store.create(child, { events: [] });
      all.push(child);
    }
    cancelled = [all[1]!.run_id, all[5]!.run_id, all[13]!.run_id];
    for (const id of cancelled) expect((await request(t.app).post(`/v1/runs/${id}/cancel`).send({})).status).toBe(202);
  });

  it('walks every run newest first across pages, without a gap or a repeat', async () => {
    for (const limit of [1, 5, 7, 100]) {
      const { ids, pages } = await walk(`limit=${limit}`);
      expect(ids).toEqual(newestFirst(all));
      expect(pages).toBe(Math.max(1, Math.ceil(all.length / limit)));
    }
  });

  it('answers the public record shape and a default page of 20', async () => {
    const res = await request(t.app).get('/v1/runs');
    expect(res.body.runs).toHaveLength(20);
    expect(res.body.runs[0]).not.toHaveProperty('snapshot');
    expect(res.body.runs[0]).not.toHaveProperty('lease');
    expect(typeof res.body.next_cursor).toBe('string');
  });

  it.each<[string, string, (r: RunRecord) => boolean]>([
    ['graph', 'graph=incident_triage', (r) => r.graph === 'incident_triage'],
    ['agent_id', 'agent_id=sofiia', (r) => r.agent_id === 'sofiia'],
    ['graph and agent_id', 'graph=release_check&agent_id=ops', (r) => r.graph === 'release_check' && r.agent_id === 'ops'],
    ['status', 'status=cancelled', (r) => cancelled.includes(r.run_id)],
    ['status and graph', 'status=queued&graph=incident_triage', (r) => !cancelled.includes(r.run_id) && r.graph === 'incident_triage'],
    ['parent_run_id', 'parent_run_id=PARENT', (r) => r.parent_run_id === parentId],
    ['schedule_id', 'schedule_id=nightly', (r) => r.trigger?.schedule_id === 'nightly'],
  ])('filters by %s, across pages', async (_name, query, f) => {
    const { ids } = await walk(`limit=2&${query.replace('PARENT', parentId)}`);
    const expected = newestFirst(all.filter(f));
    expect(expected.length).toBeGreaterThan(0);
    expect(ids).toEqual(expected);
  });

  it('takes a parameter sent empty as absent, as the contract writes the query (?graph=&status=&...)', async () => {
    const res = await request(t.app).get('/v1/runs?graph=&status=&agent_id=&limit=&cursor=');
    expect(res.status).toBe(200);
    expect(res.body.runs.map((r: RunRecord) => r.run_id)).toEqual(newestFirst(all).slice(0, 20));
    const some = await request(t.app).get('/v1/runs?graph=incident_triage&agent_id=&limit=2');
    expect(some.body.runs.map((r: RunRecord) => r.run_id)).toEqual(newestFirst(all.filter((r) => r.graph === 'incident_triage')).slice(0, 2));
  });

  it('answers an empty page for a filter nothing matches', async () => {
    const res = await request(t.app).get('/v1/runs?agent_id=nobody');
    expect(res.body).toEqual({ runs: [], next_cursor: null });
  });

  it.each([
    ['limit=0'], ['limit=101'], ['limit=ten'], ['status=done'], ['graph=nope'], ['agent_id=has%20space'],
    ['parent_run_id=42'], ['status=queued&status=running'], ['cursor=bm9wZQ'], ['cursor=%25%25'],
  ])('rejects %s with a 400 JSON error', async (query) => {
    const res = await request(t.app).get(`/v1/runs?${query}`);
    expect(res.status).toBe(400);
    expect(['validation_failed', 'invalid_cursor']).toContain(res.body.error.code);
  });

  // a cleanup script with a misspelt filter would otherwise get every run back
  it.each([['state=failed', 'state'], ['agent=nobody', 'agent'], ['status=failed&graph_name=x', 'graph_name']])(
    'rejects an unknown parameter (%s) with a 400 naming it, instead of ignoring the filter', async (query, name) => {
      const res = await request(t.app).get(`/v1/runs?${query}`);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('validation_failed');
      expect(res.body.error.message).toContain(name);
    },
  );
});

describe('webhook of a run the API itself finishes', () => {
  it('queues one delivery job when a queued run with a webhook is cancelled, none without a webhook', async () => {
    const withHook = (await post('release_check', { agent_id: 'sofiia', input: rc, webhook: 'http://127.0.0.1:9/hook' })).body.run_id;
    const without = (await post('release_check', { agent_id: 'sofiia', input: rc })).body.run_id;
    for (const id of [withHook, without]) expect((await request(t.app).post(`/v1/runs/${id}/cancel`).send({})).status).toBe(202);
    const job = await t.webhooks.getJob(`${withHook}-webhook`);
    expect(job?.name).toBe(WEBHOOK_JOB_NAME);
    expect(job?.data).toEqual({ run_id: withHook });
    expect(job?.opts.attempts).toBe(10);
    expect(await t.webhooks.getJob(`${without}-webhook`)).toBeUndefined();
    expect(await t.webhooks.count()).toBe(1);
  });

  it('refuses a webhook that is not http(s)', async () => {
    const res = await post('release_check', { agent_id: 'sofiia', input: rc, webhook: 'file:///etc/passwd' });
    expect(res.status).toBe(400);
  });
});
