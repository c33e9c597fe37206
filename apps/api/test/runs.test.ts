import { afterAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { testApp } from './helpers.js';

const t = testApp();
afterAll(() => t.close());
const body = { agent_id: 'sofiia', input: { service: 'billing', version: '1.2.3' } };

describe('POST /v1/graphs/:graph/runs', () => {
  it('writes a queued run and enqueues exactly one job for it', async () => {
    const res = await request(t.app).post('/v1/graphs/release_check/runs').send(body);
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ graph: 'release_check', agent_id: 'sofiia', status: 'queued', attempt: 0, result: null, error: null, nodes: [] });
    expect(res.body.run_id).toMatch(/^gr_[a-z0-9]+$/);
    expect(res.body).not.toHaveProperty('snapshot');
    expect(res.body).not.toHaveProperty('lease');
    const job = await t.queue.getJob(res.body.run_id);
    expect(job?.data).toEqual({ run_id: res.body.run_id, graph: 'release_check' });
    expect(JSON.parse((await t.redis.get(`${t.prefix}run:${res.body.run_id}`))!).status).toBe('queued');
  });

  it('returns the same run for the same Idempotency-Key, even when two arrive at once', async () => {
    const send = () => request(t.app).post('/v1/graphs/release_check/runs').set('Idempotency-Key', 'deploy-42').send(body);
    const [a, b] = await Promise.all([send(), send()]);
    // a replay answers like the first request, and says it is one
    expect([a.status, b.status]).toEqual([202, 202]);
    expect([a.headers['idempotent-replayed'], b.headers['idempotent-replayed']].sort()).toEqual(['false', 'true']);
    expect(a.body.run_id).toBe(b.body.run_id);
    const again = await send();
    expect(again.status).toBe(202);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.body.run_id).toBe(a.body.run_id);
  });

  it('gives a replayed run that is still queued its job back when the job is gone', async () => {
    // the first request's record landed but its job did not (enqueue and rollback both failed)
    const send = () => request(t.app).post('/v1/graphs/release_check/runs').set('Idempotency-Key', 'deploy-44').send(body);
    const first = await send();
    await (await t.queue.getJob(first.body.run_id))!.remove();
    const again = await send();
    expect([again.status, again.headers['idempotent-replayed'], again.body.run_id]).toEqual([202, 'true', first.body.run_id]);
    expect((await t.queue.getJob(first.body.run_id))?.data).toEqual({ run_id: first.body.run_id, graph: 'release_check' });
  });

  it('refuses an Idempotency-Key with a space (400): the keys of child runs have them, so no client can take one', async () => {
    const res = await request(t.app).post('/v1/graphs/incident_triage/runs').set('Idempotency-Key', 'child gr_abc123 incident_triage').send({ agent_id: 'sofiia', input: { service: 'billing' } });
    expect([res.status, res.body.error.code]).toEqual([400, 'validation_failed']);
  });

  it('takes no metadata, metadata null and metadata {} as the same request: replays, not 409s', async () => {
    const send = (b: object) => request(t.app).post('/v1/graphs/release_check/runs').set('Idempotency-Key', 'deploy-46').send(b);
    const first = await send(body);
    expect(first.status).toBe(202);
    expect(first.body).not.toHaveProperty('metadata');
    for (const metadata of [null, {}]) {
      const again = await send({ ...body, metadata });
      expect([again.status, again.headers['idempotent-replayed'], again.body.run_id]).toEqual([202, 'true', first.body.run_id]);
    }
  });

  it('refuses an Idempotency-Key that already started a run of another graph (409), starting nothing', async () => {
    const first = await request(t.app).post('/v1/graphs/release_check/runs').set('Idempotency-Key', 'deploy-43').send(body);
    expect(first.status).toBe(202);
    const before = await t.store.list({ limit: 100 });
    const other = await request(t.app).post('/v1/graphs/incident_triage/runs').set('Idempotency-Key', 'deploy-43').send({ agent_id: 'sofiia', input: { service: 'billing' } });
    expect(other.status).toBe(409);
    expect(other.body.error).toEqual({
      code: 'idempotency_key_reused', message: `Idempotency-Key already started run ${first.body.run_id} of graph release_check`,
      details: { run_id: first.body.run_id, graph: 'release_check' },
    });
    expect((await t.store.list({ limit: 100 })).runs.map((r) => r.run_id)).toEqual(before.runs.map((r) => r.run_id));
  });

  it('refuses an Idempotency-Key reused for another input, metadata or webhook (409), answering no old run', async () => {
    const send = (b: object) => request(t.app).post('/v1/graphs/release_check/runs').set('Idempotency-Key', 'deploy-45').send(b);
    const first = await send({ ...body, metadata: { ticket: 'T-1', by: 'ci' } });
    expect(first.status).toBe(202);
    // the same request with its keys in another order, and with a default spelled out, is a replay
    const reordered = await send({ metadata: { by: 'ci', ticket: 'T-1' }, input: { timeout_sec: 600, version: body.input.version, service: body.input.service }, agent_id: 'sofiia' });
    expect([reordered.status, reordered.headers['idempotent-replayed'], reordered.body.run_id]).toEqual([202, 'true', first.body.run_id]);
    const before = await t.store.list({ limit: 100 });
    const cases: Array<[object, string[]]> = [
      [{ ...body, input: { ...body.input, version: '9.9.9' }, metadata: { ticket: 'T-1', by: 'ci' } }, ['input']],
      [{ ...body }, ['metadata']],
      [{ ...body, input: { ...body.input, version: '9.9.9' }, webhook: 'https://hooks.example/x' }, ['input', 'metadata', 'webhook']],
    ];
    for (const [payload, differs] of cases) {
      const res = await send(payload);
      expect([res.status, res.body.error.code, res.body.error.details]).toEqual([409, 'idempotency_key_reused', { run_id: first.body.run_id, graph: 'release_check', differs }]);
      expect(res.body.error.message).toBe(`Idempotency-Key already started run ${first.body.run_id} with another request (${differs.join(', ')} differ${differs.length === 1 ? 's' : ''})`);
    }
    expect((await t.store.list({ limit: 100 })).runs.map((r) => r.run_id)).toEqual(before.runs.map((r) => r.run_id));
  });

  it.each([
    ['unknown graph', '/v1/graphs/nope/runs', body, 404, 'graph_not_found'],
    ['missing agent_id', '/v1/graphs/release_check/runs', { input: body.input }, 400, 'validation_failed'],
    ['input failing the graph schema', '/v1/graphs/release_check/runs', { agent_id: 'sofiia', input: { service: 42 } }, 400, 'validation_failed'],
    ['input that is not an object', '/v1/graphs/release_check/runs', { agent_id: 'sofiia', input: [1, 2] }, 400, 'validation_failed'],
    ['a webhook that is not http(s)', '/v1/graphs/release_check/runs', { ...body, webhook: 'ftp://hooks.example/x' }, 400, 'validation_failed'],
    ['a webhook URL over 2 048 characters', '/v1/graphs/release_check/runs', { ...body, webhook: `https://hooks.example/${'a'.repeat(2048)}` }, 400, 'validation_failed'],
  ])('rejects %s with a JSON error', async (_name, path, payload, status, code) => {
    const res = await request(t.app).post(path).send(payload as object);
    expect(res.status).toBe(status);
    expect(res.headers['content-type']).toMatch(/application\/json/);
    expect(res.body.error.code).toBe(code);
    expect(JSON.stringify(res.body)).not.toMatch(/at .*\.ts:\d+/);
  });

  it('names the failing input field', async () => {
    const res = await request(t.app).post('/v1/graphs/release_check/runs').send({ agent_id: 'sofiia', input: { service: 'x' } });
    expect(res.body.error.details.map((d: { path: string }) => d.path)).toContain('version');
  });

  it('rejects broken JSON, oversized bodies and other media types without a stack', async () => {
    const bad = await request(t.app).post('/v1/graphs/release_check/runs').set('content-type', 'application/json').send('{"agent_id":');
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('invalid_json');
    const huge = await request(t.app).post('/v1/graphs/release_check/runs').send({ ...body, metadata: { pad: 'x'.repeat(64 * 1024) } });
    expect(huge.status).toBe(413);
    expect(huge.body.error.code).toBe('payload_too_large');
    const text = await request(t.app).post('/v1/graphs/release_check/runs').set('content-type', 'text/plain').send('hello');
    expect(text.status).toBe(415);
  });
});

describe('reading runs', () => {
  it('GET /v1/runs/:id answers the record and 404 for unknown or malformed ids', async () => {
    const created = await request(t.app).post('/v1/graphs/release_check/runs').send(body);
    const got = await request(t.app).get(`/v1/runs/${created.body.run_id}`);
    expect(got.status).toBe(200);
    expect(got.body.run_id).toBe(created.body.run_id);
    const missing = await request(t.app).get('/v1/runs/gr_doesnotexist1');
    // the contract's error shape: details present, null when there are none
    expect(missing.status).toBe(404);
    expect(missing.body).toEqual({ error: { code: 'run_not_found', message: 'no run gr_doesnotexist1', details: null } });
    const weird = await request(t.app).get('/v1/runs/..%2F..%2Fetc');
    expect(weird.status).toBe(404);
    expect(weird.body.error.code).toBe('run_not_found');
  });

  it('GET /v1/runs/:id/events lists run_created first', async () => {
    const created = await request(t.app).post('/v1/graphs/release_check/runs').send(body);
    const ev = await request(t.app).get(`/v1/runs/${created.body.run_id}/events`);
    expect(ev.status).toBe(200);
    expect(ev.body.events[0]).toMatchObject({ type: 'run_created', data: { graph: 'release_check' } });
    expect(ev.body.events[0].id).toMatch(/^\d+-\d+$/);
  });

  it('GET /v1/graphs lists release_check with nodes, edges and a JSON Schema', async () => {
    const res = await request(t.app).get('/v1/graphs');
    const rc = res.body.graphs.find((g: { name: string }) => g.name === 'release_check');
    expect(rc.nodes.map((n: { name: string }) => n.name)).toEqual(['start_job', 'poll_job', 'result']);
    expect(rc.edges).toEqual(expect.arrayContaining([expect.objectContaining({ from: 'start_job', to: 'poll_job' })]));
    expect(rc.input_schema.required).toEqual(expect.arrayContaining(['service', 'version']));
  });

  it('answers unknown routes with a JSON 404', async () => {
    const res = await request(t.app).get('/nope');
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('not_found');
  });

  it('answers a known route with a method it does not take with 405 and Allow, from the API document', async () => {
    const created = await request(t.app).post('/v1/graphs/release_check/runs').send(body);
    for (const [method, path, allow] of [
      ['delete', `/v1/runs/${created.body.run_id}`, 'GET, HEAD'],
      ['put', '/v1/graphs/release_check/runs', 'POST'],
      ['get', `/v1/runs/${created.body.run_id}/cancel`, 'POST'],
      ['patch', '/v1/runs', 'GET, HEAD'],
    ] as const) {
      const res = await request(t.app)[method](path);
      expect([method, path, res.status, res.headers.allow, res.body.error.code]).toEqual([method, path, 405, allow, 'method_not_allowed']);
    }
    // not a route at all, even with a known prefix: still 404
    expect((await request(t.app).delete('/v1/runs/gr_abcdef/nothing')).status).toBe(404);
  });
});

describe('cancel', () => {
  it('cancels a queued run at once, removes its job, and refuses a second cancel with 409', async () => {
    const created = await request(t.app).post('/v1/graphs/release_check/runs').send(body);
    const id = created.body.run_id;
    const res = await request(t.app).post(`/v1/runs/${id}/cancel`).send({ reason: 'wrong version' });
    expect(res.status).toBe(202);
    expect(res.body.status).toBe('cancelled');
    expect(await t.queue.getJob(id)).toBeUndefined();
    const again = await request(t.app).post(`/v1/runs/${id}/cancel`).send({});
    expect(again.status).toBe(409);
    expect(again.body.error.details).toEqual({ status: 'cancelled' });
    const ev = await request(t.app).get(`/v1/runs/${id}/events`);
    expect(ev.body.events.map((e: { type: string }) => e.type)).toEqual(['run_created', 'run_cancel_requested', 'run_cancelled']);
  });
});

describe('hand-edited records', () => {
  it('reads a record an operator SET with only a few fields, and explains a record that is not JSON', async () => {
    const id = 'gr_handwritten1';
    await t.redis.set(`${t.prefix}run:${id}`, JSON.stringify({ run_id: id, graph: 'release_check', status: 'failed' }));
    const got = await request(t.app).get(`/v1/runs/${id}`);
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({ run_id: id, status: 'failed', nodes: [] });
    await t.redis.set(`${t.prefix}run:${id}`, '{"run_id": oops');
    const bad = await request(t.app).get(`/v1/runs/${id}`);
    expect(bad.status).toBe(409);
    expect(bad.body.error.code).toBe('run_record_corrupt');
    expect(bad.body.error.message).toMatch(/DEL/);
  });

  it('answers 409 run_record_corrupt, not 500, when the record or events key was made another Redis type', async () => {
    const hashed = 'gr_handwritten2';
    await t.redis.hset(`${t.prefix}run:${hashed}`, 'status', 'failed');
    for (const req of [request(t.app).get(`/v1/runs/${hashed}`), request(t.app).post(`/v1/runs/${hashed}/cancel`).send({})]) {
      const res = await req;
      expect([res.status, res.body.error.code]).toEqual([409, 'run_record_corrupt']);
      expect(res.body.error.message).toMatch(/another Redis type/);
    }
    const created = await request(t.app).post('/v1/graphs/release_check/runs').send(body);
    const events = `${t.prefix}run:${created.body.run_id}:events`;
    await t.redis.del(events);
    await t.redis.set(events, 'oops');
    const ev = await request(t.app).get(`/v1/runs/${created.body.run_id}/events`);
    expect([ev.status, ev.body.error.code]).toEqual([409, 'run_record_corrupt']);
  });

  it('rejects a malformed event cursor with 400', async () => {
    const created = await request(t.app).post('/v1/graphs/release_check/runs').send(body);
    const res = await request(t.app).get(`/v1/runs/${created.body.run_id}/events?after=nonsense`);
    expect(res.status).toBe(400);
  });

  it('pages the events with next_after: every event once, in order, and null when the list went to its end', async () => {
    const { run_id: id } = (await request(t.app).post('/v1/graphs/release_check/runs').send(body)).body;
    // 1 run_created + 6 appended; a hand-added entry that is not an event in the middle
    const stream = `${t.prefix}run:${id}:events`;
    for (let i = 0; i < 3; i++) await t.redis.xadd(stream, '*', 'e', JSON.stringify({ type: 'node_started', node: `n${i}`, at: new Date().toISOString() }));
    await t.redis.xadd(stream, '*', 'note', 'added by hand');
    for (let i = 3; i < 6; i++) await t.redis.xadd(stream, '*', 'e', JSON.stringify({ type: 'node_started', node: `n${i}`, at: new Date().toISOString() }));
    const seen: string[] = [];
    let after: string | null = null;
    for (let pages = 0; pages < 20; pages++) {
      const res = await request(t.app).get(`/v1/runs/${id}/events`).query({ limit: 3, ...(after ? { after } : {}) });
      expect(res.status).toBe(200);
      seen.push(...res.body.events.map((e: { type: string; node?: string }) => e.node ?? e.type));
      after = res.body.next_after;
      if (after === null) break;
    }
    expect(after).toBeNull();
    expect(seen).toEqual(['run_created', 'n0', 'n1', 'n2', 'n3', 'n4', 'n5']);
    // one page holds them all: nothing to go on from
    expect((await request(t.app).get(`/v1/runs/${id}/events`)).body.next_after).toBeNull();
  });

  it('refuses metadata over 16 KiB as JSON with a 400 naming it, and writes nothing', async () => {
    // a body limit the metadata alone stays under
    const roomy = testApp({ bodyLimitKb: 64 });
    try {
      const before = (await roomy.store.list({ limit: 100 })).runs.length;
      const res = await request(roomy.app).post('/v1/graphs/release_check/runs').send({ ...body, metadata: { note: 'x'.repeat(16_384) } });
      expect([res.status, res.body.error.code]).toEqual([400, 'validation_failed']);
      expect(res.body.error.message).toMatch(/metadata: at most 16384 bytes as JSON/);
      expect((await roomy.store.list({ limit: 100 })).runs.length).toBe(before);
      const fits = await request(roomy.app).post('/v1/graphs/release_check/runs').send({ ...body, metadata: { note: 'x'.repeat(16_000) } });
      expect(fits.status).toBe(202);
    } finally {
      await roomy.close();
    }
  });

  it('rejects an unknown events parameter with a 400 naming it', async () => {
    const created = await request(t.app).post('/v1/graphs/release_check/runs').send(body);
    const res = await request(t.app).get(`/v1/runs/${created.body.run_id}/events?since=0-0`);
    expect([res.status, res.body.error.code]).toEqual([400, 'validation_failed']);
    expect(res.body.error.message).toContain('since');
  });

  it('does not show `waiting` on a run an operator SET to failed while it waited', async () => {
    const { run_id: id } = (await request(t.app).post('/v1/graphs/release_check/runs').send(body)).body;
    const key = `${t.prefix}run:${id}`;
    const rec = JSON.parse((await t.redis.get(key))!);
    await t.redis.set(key, JSON.stringify({ ...rec, status: 'waiting', waiting: { reason: 'job_running', until: new Date().toISOString() } }), 'KEEPTTL');
    expect((await request(t.app).get(`/v1/runs/${id}`)).body.waiting).toMatchObject({ reason: 'job_running' });
    await t.redis.set(key, JSON.stringify({ ...rec, status: 'failed', waiting: { reason: 'job_running', until: new Date().toISOString() } }), 'KEEPTTL');
    const res = await request(t.app).get(`/v1/runs/${id}`);
    expect(res.body.status).toBe('failed');
    expect(res.body).not.toHaveProperty('waiting');
  });
});

describe('the clock runs are stamped with', () => {
  // main.ts gives Redis' clock (RedisClock): an API host whose clock is off still stamps Redis' time
  const redisTime = Date.parse('2026-01-02T03:04:05.678Z');
  const clocked = testApp({}, undefined, { now: () => redisTime });
  afterAll(() => clocked.close());

  it('stamps created_at and a cancel with the app\'s clock, not the host\'s', async () => {
    const created = await request(clocked.app).post('/v1/graphs/release_check/runs').send(body);
    expect([created.status, created.body.created_at, created.body.updated_at]).toEqual([202, '2026-01-02T03:04:05.678Z', '2026-01-02T03:04:05.678Z']);
    const cancelled = await request(clocked.app).post(`/v1/runs/${created.body.run_id}/cancel`).send({});
    expect([cancelled.status, cancelled.body.finished_at]).toEqual([202, '2026-01-02T03:04:05.678Z']);
  });
});

describe('WEBHOOK_DENY_PRIVATE', () => {
  const denying = testApp({ webhookDenyPrivate: true });
  afterAll(() => denying.close());

  it('refuses a webhook naming a private address in any spelling with a 422, writes nothing; a host name passes (the workers check what it resolves to)', async () => {
    for (const webhook of ['http://169.254.169.254/latest/meta-data', 'http://2130706433:8080/x', 'http://[::ffff:10.0.0.1]/x']) {
      const res = await request(denying.app).post('/v1/graphs/release_check/runs').send({ ...body, webhook });
      expect([webhook, res.status, res.body.error.code, res.body.error.details]).toEqual([webhook, 422, 'webhook_not_allowed', { reason: 'private_address' }]);
    }
    expect((await denying.store.list({ limit: 100 })).runs).toEqual([]);
    const named = await request(denying.app).post('/v1/graphs/release_check/runs').send({ ...body, webhook: 'http://localhost:9/x' });
    expect(named.status).toBe(202);
  });
});

describe('WEBHOOK_ALLOWED_HOSTS', () => {
  const limited = testApp({ webhookHosts: ['hooks.example.com', '*.corp.example'] });
  afterAll(() => limited.close());

  it('refuses a webhook to another host with a 422 naming the list, and writes nothing', async () => {
    const before = await limited.store.list({ limit: 100 });
    for (const webhook of ['http://169.254.169.254/latest/meta-data', 'https://hooks.example.com.evil.test/x', 'https://corp.example/x']) {
      const res = await request(limited.app).post('/v1/graphs/release_check/runs').send({ ...body, webhook });
      expect([webhook, res.status, res.body.error.code]).toEqual([webhook, 422, 'webhook_not_allowed']);
      expect(res.body.error.message).toBe(`webhook host ${new URL(webhook).host} is not in WEBHOOK_ALLOWED_HOSTS`);
      expect(res.body.error.details).toEqual({ allowed: ['hooks.example.com', '*.corp.example'] });
    }
    expect((await limited.store.list({ limit: 100 })).runs).toEqual(before.runs);
  });

  it('shows a run\'s webhook by origin only (its user info, path and query may be secrets), and replays compare the full URL', async () => {
    const webhook = 'https://user:pa55w0rd@hooks.example.com:8443/services/T0/B0/XXXX?token=SECRETTOKEN';
    const created = await request(limited.app).post('/v1/graphs/release_check/runs').set('Idempotency-Key', 'hook-origin').send({ ...body, webhook });
    expect([created.status, created.body.webhook]).toEqual([202, 'https://hooks.example.com:8443/…']);
    const got = await request(limited.app).get(`/v1/runs/${created.body.run_id}`);
    const listed = await request(limited.app).get('/v1/runs?limit=100');
    for (const text of [JSON.stringify(created.body), JSON.stringify(got.body), JSON.stringify(listed.body)]) {
      expect(text).not.toMatch(/pa55w0rd|SECRETTOKEN|XXXX/);
    }
    // stored whole: the worker posts to it, and a replay with another URL is still told apart
    expect(JSON.parse((await limited.redis.get(`${limited.prefix}run:${created.body.run_id}`))!).webhook).toBe(webhook);
    const replay = await request(limited.app).post('/v1/graphs/release_check/runs').set('Idempotency-Key', 'hook-origin').send({ ...body, webhook });
    expect([replay.status, replay.headers['idempotent-replayed']]).toEqual([202, 'true']);
    const other = await request(limited.app).post('/v1/graphs/release_check/runs').set('Idempotency-Key', 'hook-origin').send({ ...body, webhook: webhook.replace('XXXX', 'YYYY') });
    expect([other.status, other.body.error.details.differs]).toEqual([409, ['webhook']]);
  });

  it('accepts a listed host or subdomain, and a run without a webhook', async () => {
    for (const extra of [{ webhook: 'https://hooks.example.com/run?token=1' }, { webhook: 'https://ci.corp.example:8443/x' }, {}]) {
      const res = await request(limited.app).post('/v1/graphs/release_check/runs').send({ ...body, ...extra });
      expect([extra, res.status]).toEqual([extra, 202]);
    }
  });
});
