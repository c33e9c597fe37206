import { afterAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { sessionValue, validSession } from '../src/admin-auth.js';
import { testApp } from './helpers.js';

const secured = testApp({ apiKeys: ['k1', 'k2'] });
const open = testApp();
afterAll(async () => {
  await Promise.all([secured.close(), open.close()]);
});

const sessionCookie = (res: request.Response) => {
  const set = ([] as string[]).concat(res.headers['set-cookie'] ?? []);
  return set.find((c) => c.startsWith('sup_admin='));
};

describe('/admin/queues (bull-board)', () => {
  it('refuses requests without a key, with a JSON error', async () => {
    const res = await request(secured.app).get('/admin/queues');
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('unauthorized');
    expect(res.headers['www-authenticate']).toBe('Bearer');
    expect((await request(secured.app).get('/admin/queues/api/queues')).status).toBe(401);
    expect((await request(secured.app).get('/ADMIN/queues')).status).toBe(401);
    expect((await request(secured.app).get('/admin/queues?api_key=wrong')).status).toBe(401);
    expect((await request(secured.app).get('/admin/queues').set('Cookie', `sup_admin=${sessionValue('not-a-key', Date.now())}`)).status).toBe(401);
  });

  it('serves the board to a Bearer key', async () => {
    const res = await request(secured.app).get('/admin/queues').set('Authorization', 'Bearer k2');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/text\/html/);
    expect(res.text).toContain('<base href="/admin/queues/"');
  });

  it('turns ?api_key= into an HttpOnly session cookie and drops the key from the URL', async () => {
    const res = await request(secured.app).get('/admin/queues?api_key=k1&status=latest');
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe('/admin/queues?status=latest');
    const cookie = sessionCookie(res)!;
    expect(cookie).toMatch(/; Path=\/admin; HttpOnly; SameSite=Strict; Max-Age=\d+/);
    expect(cookie).not.toContain('k1');
    const value = cookie.split(';')[0]!;

    expect((await request(secured.app).get('/admin/queues').set('Cookie', value)).status).toBe(200);
    const api = await request(secured.app).get('/admin/queues/api/queues').set('Cookie', `other=1; ${value}`);
    expect(api.status).toBe(200);
    expect(api.body.queues.map((q: { name: string }) => q.name)).toEqual(['runs']);
    // the cookie is for the dashboard only, never for the API
    expect((await request(secured.app).get('/v1/graphs').set('Cookie', value)).status).toBe(401);
    // tampered
    expect((await request(secured.app).get('/admin/queues').set('Cookie', `${value.slice(0, -2)}xx`)).status).toBe(401);
  });

  it('redirects only back into /admin on this host, whatever the path resolves to', async () => {
    for (const [path, location] of [
      ['/admin/..//evil.example/x?api_key=k1', '/admin/queues'],
      ['/admin/queues/..//..//evil.example?api_key=k1', '/admin//evil.example'], // a path on this host
      ['/admin/queues/api/../?api_key=k1&x=1', '/admin/queues/?x=1'],
    ]) {
      const res = await request(secured.app).get(path!);
      expect([path, res.status, res.headers.location]).toEqual([path, 303, location]);
    }
  });

  it('expires sessions and ends them when the key is removed', () => {
    const now = Date.now();
    const v = sessionValue('k1', now);
    expect(validSession(['k1'], v, now)).toBe(true);
    expect(validSession(['k1'], v, now + 13 * 3600_000)).toBe(false);
    expect(validSession(['k2'], v, now)).toBe(false);
    expect(validSession(['k1'], undefined, now)).toBe(false);
  });

  it('links each job to its run and shows the run to the same session', async () => {
    const created = await request(open.app).post('/v1/graphs/release_check/runs').send({ agent_id: 'sofiia', input: { service: 'billing', version: '1.0.0' } });
    const id = created.body.run_id as string;
    const res = await request(open.app).get('/admin/queues/api/queues?activeQueue=runs&status=waiting&page=1');
    expect(res.status).toBe(200);
    const runs = res.body.queues.find((q: { name: string }) => q.name === 'runs');
    const job = runs.jobs.find((j: { id: string }) => j.id === id);
    expect(job.externalUrl).toEqual({ href: `/admin/runs/${id}`, displayText: `run ${id}` });

    const run = await request(open.app).get(`/admin/runs/${id}`);
    expect(run.status).toBe(200);
    expect(run.body).toMatchObject({ run_id: id, graph: 'release_check', status: 'queued' });
    expect(run.body.lease).toBeUndefined();
    expect((await request(open.app).get('/admin/runs/gr_nope')).status).toBe(404);
    expect((await request(secured.app).get(`/admin/runs/${id}`)).status).toBe(401);
  });
});
