import { afterAll, describe, expect, it } from '@jest/globals';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { Express } from 'express';
import { Redis } from 'ioredis';
import request from 'supertest';
import { graphs } from '@sup/graphs';
import { buildOpenApiDocument } from '../src/openapi/routes.js';
import { scheduledApp } from './helpers.js';

// The API wired as main.ts wires it (schedules included, so every route is mounted), with API keys
// on, over the real Redis under a prefix of its own.
const { prefix, redis, store, queue, scheduleQueue, schedules, log, app, close } = scheduledApp('openapi', ['k1']);
afterAll(() => close());
const auth = { Authorization: 'Bearer k1' };

interface Layer { route?: { path: string | string[]; methods: Record<string, boolean> }; rawPath?: unknown; handle?: { stack?: Layer[]; router?: { stack: Layer[] } } }

/**
 * Every (method, path) the Express app serves, read from its router stack: routes of nested routers
 * and mounted sub-apps (bull-board) with their mount prefix. Plain middleware (auth) serves nothing.
 */
function servedRoutes(stack: Layer[], prefix = ''): Array<{ method: string; path: string }> {
  return stack.flatMap((layer) => {
    const mount = typeof layer.rawPath === 'string' && layer.rawPath !== '/' ? layer.rawPath : '';
    if (layer.route) {
      const paths = Array.isArray(layer.route.path) ? layer.route.path : [layer.route.path];
      return paths.flatMap((p) => Object.keys(layer.route!.methods).filter((m) => m !== '_all').map((method) => ({ method, path: prefix + p })));
    }
    const inner = layer.handle?.stack ?? layer.handle?.router?.stack;
    return inner ? servedRoutes(inner, prefix + mount) : [];
  });
}

const shape = (p: string) => p.replace(/\{[^}]+\}|:[A-Za-z0-9_]+/g, '{}').replace(/\/$/, '') || '/';

async function fetchDoc(app: Express) {
  const res = await request(app).get('/openapi.json');
  expect(res.status).toBe(200);
  return res.body as { openapi: string; paths: Record<string, Record<string, { security?: unknown[] }>>; components: { schemas: Record<string, unknown> } };
}

describe('GET /openapi.json', () => {
  it('is a valid OpenAPI 3.1 document by a real validator, served without a key', async () => {
    const doc = await fetchDoc(app);
    expect(doc.openapi).toBe('3.1.0');
    const res = await new Validator().validate(doc);
    expect(res.errors ?? []).toEqual([]);
    expect(res.valid).toBe(true);
  });

  it('a broken document fails the same validator (the check can fail)', async () => {
    const doc = structuredClone(await fetchDoc(app)) as Record<string, any>;
    doc.paths['/v1/runs/{run_id}'].get.responses = { 200: { content: {} } };
    expect((await new Validator().validate(doc)).valid).toBe(false);
  });

  it('documents every route the Express app serves', async () => {
    const doc = await fetchDoc(app);
    const served = servedRoutes((app as unknown as { router: { stack: Layer[] } }).router.stack);
    expect(served.map((r) => r.path)).toEqual(expect.arrayContaining(['/healthz', '/v1/graphs/:graph/runs', '/v1/runs', '/v1/runs/:id/cancel', '/v1/schedules/:id/trigger', '/metrics']));
    const documented = new Map(Object.entries(doc.paths).map(([p, item]) => [shape(p), item as Record<string, unknown>]));
    const subtrees = Object.entries(doc.paths).filter(([, item]) => Object.values(item).some((op) => (op as Record<string, unknown>)['x-subtree'])).map(([p]) => p);
    const missing = served.filter(({ method, path }) => {
      if (subtrees.some((s) => path === s || path.startsWith(`${s}/`))) return false;
      const item = documented.get(shape(path));
      return !item || (method !== '*' && !(method in item));
    });
    expect(missing).toEqual([]);
  });

  it('marks only /healthz, /openapi.json and /docs as public while API keys are on', async () => {
    const doc = await fetchDoc(app);
    const open = Object.entries(doc.paths).flatMap(([p, item]) => Object.values(item).filter((op) => op.security?.length === 0).map(() => p));
    expect(open.sort()).toEqual(['/docs', '/healthz', '/openapi.json']);
    expect((await request(app).get('/docs')).status).toBe(200);
    expect((await request(app).get('/v1/graphs')).status).toBe(401);
    const publicMetrics = buildOpenApiDocument({ graphs, metricsPublic: true }) as typeof doc;
    expect(publicMetrics.paths['/metrics']!.get!.security).toEqual([]);
  });

  it('carries each graph\'s input schema, the same one GET /v1/graphs shows', async () => {
    const doc = await fetchDoc(app);
    const listed = (await request(app).get('/v1/graphs').set(auth)).body.graphs as Array<{ name: string; input_schema: Record<string, unknown> }>;
    expect(listed.length).toBeGreaterThanOrEqual(3);
    for (const g of listed) {
      const { $schema: _, ...schema } = g.input_schema;
      expect(Object.values(doc.components.schemas)).toContainEqual(schema);
    }
    expect(doc.components.schemas.ReleaseCheckInput).toMatchObject({ required: expect.arrayContaining(['service', 'version']) });
  });
});

describe('documented schemas match real answers', () => {
  it('validates live responses against their documented schema', async () => {
    const doc = await fetchDoc(app);
    const ajv = new Ajv2020({ strict: false, validateFormats: false, allErrors: true });
    ajv.addSchema({ ...doc, $id: 'openapi' } as object);
    const check = (name: string, body: unknown) => {
      const validate = ajv.compile({ $ref: `openapi#/components/schemas/${name}` });
      expect({ name, ok: validate(body), errors: validate.errors ?? null }).toEqual({ name, ok: true, errors: null });
    };
    const input = { service: 'billing', version: '1.2.3' };
    const created = await request(app).post('/v1/graphs/release_check/runs').set(auth).send({ agent_id: 'sofiia', input });
    expect(created.status).toBe(202);
    check('RunRecord', created.body);
    check('RunRecord', (await request(app).get(`/v1/runs/${created.body.run_id}`).set(auth)).body);
    check('RunEvents', (await request(app).get(`/v1/runs/${created.body.run_id}/events`).set(auth)).body);
    check('GraphList', (await request(app).get('/v1/graphs').set(auth)).body);
    check('Health', (await request(app).get('/healthz')).body);
    check('CreateRunBody', { agent_id: 'sofiia', input });
    check('RunRecord', (await request(app).post(`/v1/runs/${created.body.run_id}/cancel`).set(auth).send({ reason: 'test' })).body);
    const conflict = await request(app).post(`/v1/runs/${created.body.run_id}/cancel`).set(auth).send({});
    expect(conflict.status).toBe(409);
    check('Error', conflict.body);
    check('Error', (await request(app).get('/v1/runs/gr_nothere123').set(auth)).body);
    check('RunPage', (await request(app).get('/v1/runs?limit=1').set(auth)).body);

    const spec = { id: 'hourly-billing', graph: 'release_check', cron: '0 * * * *', agent_id: 'sofiia', input };
    check('ScheduleBody', spec);
    const sched = await request(app).post('/v1/schedules').set(auth).send(spec);
    expect(sched.status).toBe(201);
    check('Schedule', sched.body);
    check('ScheduleList', (await request(app).get('/v1/schedules').set(auth)).body);
    check('Schedule', (await request(app).get('/v1/schedules/hourly-billing').set(auth)).body);
    const fired = await request(app).post('/v1/schedules/hourly-billing/trigger').set(auth).send({});
    expect(fired.status).toBe(202);
    check('RunRecord', fired.body);
    check('ScheduleRuns', (await request(app).get('/v1/schedules/hourly-billing/runs').set(auth)).body);
    check('ScheduleTicks', (await request(app).get('/v1/schedules/hourly-billing/ticks').set(auth)).body);
    const skipped = await request(app).post('/v1/schedules/hourly-billing/trigger').set(auth).send({});
    expect(skipped.status).toBe(409);
    check('Error', skipped.body);
    check('Schedule', (await request(app).delete('/v1/schedules/hourly-billing').set(auth)).body);
    // and the check rejects what does not match
    const validate = ajv.compile({ $ref: 'openapi#/components/schemas/RunRecord' });
    expect(validate({ ...created.body, status: 'exploded' })).toBe(false);
  });
});

describe('GET /docs', () => {
  it('is a self-contained HTML page listing every operation', async () => {
    const doc = await fetchDoc(app);
    const res = await request(app).get('/docs');
    expect(res.headers['content-type']).toMatch(/text\/html/);
    expect(res.text).not.toMatch(/<script|<link|https?:\/\/(?!json-schema)/);
    for (const path of Object.keys(doc.paths)) expect(res.text).toContain(`<code>${path}</code>`);
  });
});
