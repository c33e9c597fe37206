import { afterAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { startApp, stopProc, until, type Proc } from '../src/procs.js';
import { nearlyFull, startRedisServer, stopRedisServer, type RedisServer } from '../src/redis-servers.js';

/**
 * Load shedding on a real Redis: the API process refuses new runs once Redis' used memory reaches
 * ADMISSION_MEMORY_PCT of its maxmemory — while Redis itself still takes writes — and takes them
 * again once there is room.
 */
describe('admission: new runs are refused before Redis is full', () => {
  let server: RedisServer;
  let admin: Redis;
  let api: Proc;
  let url = '';
  afterAll(async () => {
    admin?.disconnect();
    if (api) await stopProc(api);
    if (server) await stopRedisServer(server);
  });

  const create = () => fetch(`${url}/v1/graphs/release_check/runs`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ agent_id: 'sofiia', input: { service: 'billing', version: '1.0.0' } }),
  });

  it('answers 503 over_capacity at 90 % of maxmemory, and 202 again once maxmemory is raised', async () => {
    server = await startRedisServer(['--maxmemory-policy', 'noeviction'], 'redis-admission');
    admin = new Redis(server.url);
    api = startApp('api', { REDIS_URL: server.url, KEY_PREFIX: 'adm:', PORT: '0', HOST: '127.0.0.1', GATEWAY_URL: 'http://127.0.0.1:9', ADMISSION_MEMORY_PCT: '90' }, 'api-admission');
    url = `http://127.0.0.1:${(await api.waitFor(/api_listening port=(\d+)/))[1]}`;
    expect((await create()).status).toBe(202);

    // Redis at ~93 % of a maxmemory above what it uses: over the 90 % limit, and it still takes writes
    const used = await nearlyFull(admin, 0.93);
    // every create accepted before the API's next memory read (at most 1 s) fills Redis further: a
    // poll every 50 ms could fill the last 7 % on a slow run (CI saw Redis refuse first) — 4 a second cannot
    const refused = await until('creates refused', async () => {
      const res = await create();
      return res.status === 503 ? ((await res.json()) as { error: { code: string; details: { limit_pct: number } } }) : undefined;
    }, 30_000, 250);
    expect(refused.error).toMatchObject({ code: 'over_capacity', details: { limit_pct: 90 } });
    expect(await admin.set('adm:probe', '1')).toBe('OK'); // not Redis refusing: the API shedding
    await api.waitFor(/\[WARN\] admission_refusing /);

    await admin.config('SET', 'maxmemory', String(used * 20));
    await until('creates accepted again', async () => (await create()).status === 202);
    await api.waitFor(/\[INFO\] admission_accepting /);
  });
});
