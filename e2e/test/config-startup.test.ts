import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startApp, stopProc, type Proc } from '../src/procs.js';
import { startRedisServer, stopRedisServer, type RedisServer } from '../src/redis-servers.js';

/**
 * What an operator sees when the environment is wrong: one line naming the variable and exit 1,
 * never a stack; and what the processes print about their configuration (no secrets).
 */
describe('configuration at start-up (real processes)', () => {
  let redis: RedisServer | undefined;
  const started: Proc[] = [];
  const start = (app: 'api' | 'worker', env: Record<string, string>) => {
    const p = startApp(app, { GATEWAY_URL: 'http://127.0.0.1:9', PORT: '0', HOST: '127.0.0.1', HOUSEKEEPING_EVERY_SEC: '3600', ...env });
    started.push(p);
    return p;
  };
  const oneLineExit = async (p: Proc, line: RegExp) => {
    expect(await p.exited).toBe(1);
    expect(p.lines.filter((l) => line.test(l))).toHaveLength(1);
    // no stack trace, no repeated connection errors
    expect(p.lines.filter((l) => /^\s+at |Error:|Redis connection error/.test(l))).toEqual([]);
  };

  beforeAll(async () => {
    redis = await startRedisServer([], 'config');
  });
  afterAll(async () => {
    await Promise.all(started.map((p) => stopProc(p, 'SIGKILL')));
    await stopRedisServer(redis);
  });

  it.each(['api', 'worker'] as const)('%s: a REDIS_URL that does not parse is one line naming it', async (app) => {
    for (const [url, why] of [['redis://127.0.0.1:99999', /the port 99999 is not a port between 1 and 65535$/], ['redis://127.0.0.1:6379/abc', /the database "abc" is not a whole number/]] as const) {
      const p = start(app, { REDIS_URL: url });
      await oneLineExit(p, /^invalid configuration: REDIS_URL="/);
      expect(p.lines.join('\n')).toMatch(why);
    }
  });

  it.each(['api', 'worker'] as const)('%s: a database Redis refuses stops start-up with one line naming REDIS_URL (it went on in db 0)', async (app) => {
    const p = start(app, { REDIS_URL: `${redis!.url}/99` });
    await oneLineExit(p, /^invalid configuration: REDIS_URL="redis:\/\/127\.0\.0\.1:\d+\/99": Redis refuses database 99 \(ERR DB index is out of range\)$/);
    expect(p.lines.join('\n')).not.toMatch(/worker_ready|api_listening|housekeeping/);
  });

  it('api: API_KEYS set but listing no key stops start-up (auth was silently off)', async () => {
    const p = start('api', { REDIS_URL: redis!.url, API_KEYS: ' , ' });
    await oneLineExit(p, /^invalid configuration: API_KEYS=\(hidden\): set but lists nothing: .*unset it to run without authentication$/);
  });

  it('api: without API_KEYS one [WARN] auth_off line at start-up; with keys none', async () => {
    const open = start('api', { REDIS_URL: redis!.url });
    await open.waitFor(/api_listening .*auth=off/);
    expect(open.lines.filter((l) => /\[WARN\] auth_off /.test(l))).toHaveLength(1);
    const keyed = start('api', { REDIS_URL: redis!.url, API_KEYS: 'k1' });
    await keyed.waitFor(/api_listening .*auth=api_keys/);
    expect(keyed.lines.join('\n')).not.toMatch(/auth_off/);
  });

  it('worker: worker_ready shows the gateway without its user info', async () => {
    const p = start('worker', { REDIS_URL: redis!.url, GATEWAY_URL: 'http://user:s3cret@127.0.0.1:9/base' });
    const [line] = await p.waitFor(/worker_ready .*/);
    expect(line).toMatch(/ gateway_url=http:\/\/127\.0\.0\.1:9\/base /);
    expect(p.lines.join('\n')).not.toMatch(/s3cret/);
  });

  it('worker: a GATEWAY_URL with a query string is refused (the client dropped it), without quoting the token', async () => {
    const p = start('worker', { REDIS_URL: redis!.url, GATEWAY_URL: 'http://user:s3cret@127.0.0.1:9/?token=abc' });
    await oneLineExit(p, /^invalid configuration: GATEWAY_URL="http:\/\/\*\*\*@127\.0\.0\.1:9\/\?token=\*\*\*": a query string or fragment would be dropped/);
    expect(p.lines.join('\n')).not.toMatch(/s3cret|abc/);
  });
});
