import { afterAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import request from 'supertest';
import { graphs } from '@sup/graphs';
import { validateSchedule } from '@sup/schedules';
import { scheduleRoutes } from '../src/routes/schedules.js';
import { scheduledApp } from './helpers.js';

// the API in-process with schedules wired as main.ts wires them, over the real Redis
const { prefix, redis, store, queue, scheduleQueue, schedules, log, app, close } = scheduledApp('api-sched', []);
afterAll(() => close());

const input = { service: 'billing', version: '1.4.2' };
const nightly = { id: 'nightly-billing', graph: 'release_check', cron: '0 2 * * *', tz: 'Europe/Kyiv', agent_id: 'sofiia', input };

describe('POST /v1/schedules', () => {
  it('creates a schedule backed by a BullMQ job scheduler and answers 201 with its next fire times', async () => {
    const res = await request(app).post('/v1/schedules').send(nightly);
    expect(res.status).toBe(201);
    expect(res.headers.location).toBe('/v1/schedules/nightly-billing');
    expect(res.body).toMatchObject({ ...nightly, overlap: 'skip', enabled: true, source: 'api', state: { fired: 0, skipped: 0, last_run_id: null } });
    expect(res.body.next_fire_times).toHaveLength(3);
    expect(res.body.next_fire_at).toBe(res.body.next_fire_times[0]);
    // 02:00 in Kyiv is 23:00 or 00:00 UTC depending on DST
    expect([23, 0]).toContain(new Date(res.body.next_fire_at).getUTCHours());
    const j = await scheduleQueue.getJobScheduler('nightly-billing');
    expect(j).toMatchObject({ pattern: '0 2 * * *', tz: 'Europe/Kyiv', next: Date.parse(res.body.next_fire_at) });
  });

  it('generates an id when none is given; the same id again replaces the schedule (200)', async () => {
    const res = await request(app).post('/v1/schedules').send({ ...nightly, id: undefined, every_sec: 3600, cron: undefined, tz: undefined });
    expect(res.status).toBe(201);
    expect(res.body.id).toMatch(/^sch_/);
    const again = await request(app).post('/v1/schedules').send({ ...nightly, id: res.body.id, every_sec: 7200, cron: undefined, tz: undefined });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ id: res.body.id, every_sec: 7200, created_at: res.body.created_at });
    expect((await scheduleQueue.getJobScheduler(res.body.id))?.every).toBe(7_200_000);
    await request(app).delete(`/v1/schedules/${res.body.id}`).expect(200);
  });

  it.each([
    ['an invalid cron', { ...nightly, id: 'x1', cron: '0 25 * * *' }, 'invalid_cron', /cron "0 25 \* \* \*" is invalid/],
    ['a cron with too few fields', { ...nightly, id: 'x2', cron: '* *' }, 'invalid_cron', /expected 5 fields/],
    ['an unknown graph', { ...nightly, id: 'x3', graph: 'deploy_everything' }, 'unknown_graph', /unknown graph "deploy_everything"/],
    ['input failing the graph schema', { ...nightly, id: 'x4', input: { service: 'billing', version: 7 } }, 'validation_failed', /input for graph release_check is invalid: version/],
    ['an unknown time zone', { ...nightly, id: 'x5', tz: 'Europe/Atlantis' }, 'invalid_tz', /unknown time zone "Europe\/Atlantis"/],
    ['neither cron nor every_sec', { ...nightly, id: 'x6', cron: undefined, tz: undefined }, 'validation_failed', /exactly one of cron or every_sec/],
    ['a missing agent_id', { ...nightly, id: 'x7', agent_id: undefined }, 'validation_failed', /agent_id/],
    ['a cron with H (a random value per tick)', { ...nightly, id: 'x8', cron: 'H 2 * * *' }, 'invalid_cron', /the minute field uses H, which is not supported/],
  ])('rejects %s with a 400 naming the problem', async (_name, body, code, message) => {
    const res = await request(app).post('/v1/schedules').send(body);
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(/application\/json/);
    expect(res.body.error.code).toBe(code);
    expect(res.body.error.message).toMatch(message);
    expect(await scheduleQueue.getJobScheduler(body.id!)).toBeUndefined();
  });

  it('accepts a macro written in another case, and schedules and previews it as @hourly', async () => {
    const res = await request(app).post('/v1/schedules').send({ ...nightly, id: 'macro-case', cron: '@Hourly', tz: undefined });
    expect(res.status).toBe(201);
    expect(res.body.cron).toBe('@hourly');
    const j = await scheduleQueue.getJobScheduler('macro-case');
    expect(j).toMatchObject({ pattern: '@hourly', next: Date.parse(res.body.next_fire_at) });
    const times = res.body.next_fire_times.map((t: string) => Date.parse(t));
    expect(times.map((t: number) => new Date(t).getUTCMinutes())).toEqual([0, 0, 0]);
    expect(times[1] - times[0]).toBe(3_600_000);
    await request(app).delete('/v1/schedules/macro-case').expect(200);
  });

  it('rejects a body that is not JSON', async () => {
    const res = await request(app).post('/v1/schedules').set('content-type', 'text/plain').send('every day');
    expect(res.status).toBe(415);
  });
});

describe('GET /v1/schedules', () => {
  it('lists every schedule with its next fire time and state', async () => {
    await request(app).post('/v1/schedules').send({ ...nightly, id: 'hourly-payments', cron: '0 * * * *', tz: undefined }).expect(201);
    const res = await request(app).get('/v1/schedules');
    expect(res.status).toBe(200);
    const byId = Object.fromEntries(res.body.schedules.map((s: { id: string }) => [s.id, s]));
    expect(Object.keys(byId)).toEqual(expect.arrayContaining(['nightly-billing', 'hourly-payments']));
    const next = Date.parse(byId['hourly-payments'].next_fire_at);
    expect(new Date(next).getUTCMinutes()).toBe(0);
    expect(Date.parse(byId['hourly-payments'].next_fire_times[1]) - next).toBe(3_600_000);
    expect(byId['nightly-billing'].state).toEqual({ last_run_id: null, last_fired_at: null, last_skip_at: null, fired: 0, skipped: 0 });
  });

  it('pages by id with limit and cursor: every schedule once, in order, next_cursor null on the last page', async () => {
    const ids = ['page-a', 'page-b', 'page-c', 'page-d', 'page-e'];
    for (const id of ids) await request(app).post('/v1/schedules').send({ ...nightly, id }).expect(201);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res = await request(app).get('/v1/schedules').query({ limit: 2, ...(cursor ? { cursor } : {}) });
      expect(res.status).toBe(200);
      expect(res.body.schedules.length).toBeLessThanOrEqual(2);
      seen.push(...res.body.schedules.map((s: { id: string }) => s.id));
      cursor = res.body.next_cursor;
      pages++;
    } while (cursor !== null && pages < 20);
    expect(cursor).toBeNull();
    expect(seen).toEqual([...seen].sort());
    expect(seen).toEqual(expect.arrayContaining([...ids, 'nightly-billing', 'hourly-payments']));
    expect(new Set(seen).size).toBe(seen.length);
    // the default page holds them all here, with no cursor to go on
    const all = await request(app).get('/v1/schedules');
    expect(all.body.schedules.map((s: { id: string }) => s.id)).toEqual(seen);
    expect(all.body.next_cursor).toBeNull();
    for (const id of ids) await request(app).delete(`/v1/schedules/${id}`).expect(200);
  });

  it.each([
    ['limit=0', { limit: 0 }, 'validation_failed'],
    ['limit=1001', { limit: 1001 }, 'validation_failed'],
    ['an unknown parameter', { enabled: 'true' }, 'validation_failed'],
    ['a cursor this API did not return', { cursor: Buffer.from('../etc').toString('base64url') }, 'invalid_cursor'],
  ])('answers %s with a 400', async (_name, query, code) => {
    const res = await request(app).get('/v1/schedules').query(query);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe(code);
  });

  it('GET /v1/schedules/{id} answers the schedule, and 404 for an unknown one', async () => {
    const res = await request(app).get('/v1/schedules/nightly-billing');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: 'nightly-billing', graph: 'release_check' });
    const none = await request(app).get('/v1/schedules/nope');
    expect(none.status).toBe(404);
    expect(none.body.error.code).toBe('schedule_not_found');
  });
});

describe('POST /v1/schedules/{id}/trigger', () => {
  it('starts a run now with trigger {type: schedule}; overlap skip answers 409 while it is unfinished', async () => {
    const res = await request(app).post('/v1/schedules/nightly-billing/trigger');
    expect(res.status).toBe(202);
    const run = res.body;
    expect(run).toMatchObject({ graph: 'release_check', agent_id: 'sofiia', status: 'queued', trigger: { type: 'schedule', schedule_id: 'nightly-billing' } });
    expect(res.headers.location).toBe(`/v1/runs/${run.run_id}`);
    expect((await queue.getJob(run.run_id))?.data).toEqual({ run_id: run.run_id, graph: 'release_check' });
    expect((await request(app).get(`/v1/runs/${run.run_id}`)).body.trigger).toEqual({ type: 'schedule', schedule_id: 'nightly-billing' });

    const skipped = await request(app).post('/v1/schedules/nightly-billing/trigger');
    expect(skipped.status).toBe(409);
    expect(skipped.body.error).toMatchObject({ code: 'schedule_overlap', details: { running_run_id: run.run_id } });

    const forced = await request(app).post('/v1/schedules/nightly-billing/trigger').send({ overlap: 'allow' });
    expect(forced.status).toBe(202);
    expect(forced.body.run_id).not.toBe(run.run_id);

    const view = (await request(app).get('/v1/schedules/nightly-billing')).body;
    expect(view.state).toMatchObject({ fired: 2, skipped: 1, last_run_id: forced.body.run_id });
    const runs = await request(app).get('/v1/schedules/nightly-billing/runs');
    expect(runs.body.runs.map((r: { run_id: string }) => r.run_id)).toEqual([forced.body.run_id, run.run_id]);
    // runs are listed by schedule in the run listing as well
    const listed = await request(app).get('/v1/runs').query({ schedule_id: 'nightly-billing' });
    expect(listed.status).toBe(200);
    expect(listed.body.runs.map((r: { run_id: string }) => r.run_id)).toEqual([forced.body.run_id, run.run_id]);
    const ticks = await request(app).get('/v1/schedules/nightly-billing/ticks');
    expect(ticks.body.ticks.map((t: { outcome: string }) => t.outcome)).toEqual(['fired', 'skipped', 'fired']);
    const metrics = (await request(app).get('/metrics')).text;
    expect(metrics).toContain('sup_schedule_ticks_total{schedule="nightly-billing",outcome="fired"} 2');
    expect(metrics).toContain('sup_schedule_ticks_total{schedule="nightly-billing",outcome="skipped"} 1');
  });

  it('answers 404 for an unknown schedule and 400 for a bad body', async () => {
    expect((await request(app).post('/v1/schedules/nope/trigger')).status).toBe(404);
    const bad = await request(app).post('/v1/schedules/nightly-billing/trigger').send({ overlap: 'queue' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('validation_failed');
  });
});

describe('DELETE /v1/schedules/{id}', () => {
  it('removes the schedule and its job scheduler; 404 afterwards', async () => {
    const res = await request(app).delete('/v1/schedules/hourly-payments');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: 'hourly-payments', cron: '0 * * * *', source: 'api' });
    expect(await scheduleQueue.getJobScheduler('hourly-payments')).toBeUndefined();
    expect((await request(app).get('/v1/schedules/hourly-payments')).status).toBe(404);
    expect((await request(app).delete('/v1/schedules/hourly-payments')).status).toBe(404);
  });

  it('refuses to delete or replace a schedule that comes from the configuration (409)', async () => {
    await schedules.reconcile([validateSchedule({ ...nightly, id: 'from-file' }, graphs, 'config')]);
    const res = await request(app).delete('/v1/schedules/from-file');
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('schedule_from_config');
    const replace = await request(app).post('/v1/schedules').send({ ...nightly, id: 'from-file', cron: '5 4 * * *' });
    expect(replace.status).toBe(409);
    expect((await scheduleQueue.getJobScheduler('from-file'))?.pattern).toBe('0 2 * * *');
  });
});

describe('OpenAPI', () => {
  it('documents every schedules route, and validates POST bodies with the schema it publishes', async () => {
    const doc = (await request(app).get('/openapi.json')).body as { paths: Record<string, Record<string, unknown>>; components: { schemas: Record<string, { properties?: object }> } };
    const stack = (scheduleRoutes(schedules) as unknown as { stack: Array<{ route: { path: string; methods: Record<string, boolean> } }> }).stack;
    const served = stack.flatMap((l) => Object.keys(l.route.methods).map((m) => [m, l.route.path.replace(/:id/, '{id}')] as const));
    expect(served.length).toBeGreaterThanOrEqual(7);
    for (const [method, path] of served) expect([method, path, doc.paths[path]?.[method] !== undefined]).toEqual([method, path, true]);
    expect(Object.keys(doc.components.schemas.ScheduleBody!.properties!)).toEqual(
      expect.arrayContaining(['id', 'graph', 'cron', 'every_sec', 'tz', 'agent_id', 'input', 'overlap', 'enabled']),
    );
  });
});
