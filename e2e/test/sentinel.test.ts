import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { System } from '../src/system.js';
import { until } from '../src/procs.js';
import { LocalSentinel, redisCli } from '../src/redis-servers.js';

/**
 * Redis Sentinel by configuration alone (REDIS_SENTINELS + REDIS_SENTINEL_NAME): a master, a
 * replica and one sentinel, all throwaway redis-server processes. Runs go on across a failover.
 */
describe('behind Redis Sentinel (master + replica + 1 sentinel)', () => {
  let sentinel: LocalSentinel | undefined;
  let sys: System | undefined;
  const s = () => sys!;

  beforeAll(async () => {
    sentinel = new LocalSentinel('supmaster'); // assigned first: afterAll stops what started even if start() fails
    await sentinel.start();
    sys = new System({
      workers: 2,
      // REDIS_URL points nowhere: every process must find the master through the sentinel
      redis: { sentinels: `127.0.0.1:${sentinel.sentinel.port}`, sentinelName: 'supmaster', url: 'redis://127.0.0.1:1' },
      simEnv: { SIM_JOB_DURATION_MS: '2500' },
    });
    await sys.start();
  });
  afterAll(async () => {
    await sys?.stop();
    await sentinel?.stop();
  });

  it('runs release_check on the master the sentinel names', async () => {
    const id = await s().submit('release_check', { service: 'billing', version: '1.4.2' });
    const run = await s().waitStatus(id, ['succeeded', 'failed']);
    expect(run.status).toBe('succeeded');
    expect(run.result.verdict).toBe('pass');
    expect(await redisCli(sentinel!.master.port, 'EXISTS', `${s().prefix}run:${id}`)).toBe('1');
  });

  it('says in /healthz and the log what the replication settings risk, again after a reconnect (docs/deployment.md#redis-sentinel)', async () => {
    const url = s().apiUrls[0]!;
    const api = s().apis[0]!;
    const warningsOf = async () => ((await (await fetch(`${url}/healthz`)).json()) as { status: string; warnings?: string[] });
    // the API's own connections drop and reconnect (through the sentinel, as after a failover)
    const reconnectApi = async (port: number) => {
      const ids = (await redisCli(port, 'CLIENT', 'LIST')).split('\n').filter((l) => / name=api /.test(l)).map((l) => /^id=(\d+)/.exec(l)![1]!);
      expect(ids.length).toBeGreaterThan(0);
      for (const id of ids) await redisCli(port, 'CLIENT', 'KILL', 'ID', id);
    };
    // the set-up's default, min-replicas-to-write 0: a failover can lose runs already answered 202
    const first = await warningsOf();
    expect(first.status).toBe('ok');
    expect(first.warnings).toEqual([expect.stringContaining('min-replicas-to-write is 0 behind Sentinel')]);
    expect(api.lines.some((l) => /\[WARN\] redis_replication_unsafe min_replicas_to_write=0 replicas=1/.test(l))).toBe(true);
    // one replica and min-replicas-to-write 1: safe, but a failover stops writes until the old master is back
    const master = await sentinel!.masterPort();
    await redisCli(master, 'CONFIG', 'SET', 'min-replicas-to-write', '1');
    try {
      await reconnectApi(master);
      expect((await api.waitFor(/\[WARN\] redis_replication_fragile .*/))[0]).toMatch(/min_replicas_to_write=1 replicas=1/);
      expect((await warningsOf()).warnings).toEqual([expect.stringMatching(/1 replica\(s\) and min-replicas-to-write 1: .*run 2 replicas/)]);
    } finally {
      await redisCli(master, 'CONFIG', 'SET', 'min-replicas-to-write', '0');
    }
    // back to 0: the next reconnect's check replaces the warning
    await reconnectApi(master);
    await until('/healthz to say min-replicas-to-write is 0 again', async () => (await warningsOf()).warnings?.[0]?.includes('min-replicas-to-write is 0') === true, 30_000, 100);
  });

  it('runs waiting across a sentinel failover finish on the promoted replica', async () => {
    const ids = await Promise.all(Array.from({ length: 4 }, (_, i) => s().submit('release_check', { service: `fo${i}`, version: '1.0.0' })));
    await Promise.all(ids.map((id) => s().waitStatus(id, ['waiting'])));
    expect(await redisCli(sentinel!.sentinel.port, 'SENTINEL', 'FAILOVER', 'supmaster')).toBe('OK');
    await until('the sentinel to name the replica as master', async () => (await sentinel!.masterPort()) === sentinel!.replica.port, 30_000, 100);

    const runs = await Promise.all(ids.map((id) => s().waitStatus(id, ['succeeded', 'failed', 'cancelled'], 90_000)));
    expect(runs.map((r) => [r.status, r.error?.code ?? null])).toEqual(ids.map(() => ['succeeded', null])); // error codes in the failure message
    // the runs were finished on the new master (the old one is its replica now)
    for (const id of ids) {
      expect(JSON.parse(await redisCli(sentinel!.replica.port, 'GET', `${s().prefix}run:${id}`)).status).toBe('succeeded');
    }
    // and new runs still work after it, written to the new master
    const after = await s().submit('release_check', { service: 'after', version: '1.0.0' });
    expect((await s().waitStatus(after, ['succeeded', 'failed'], 60_000)).status).toBe('succeeded');
    expect(JSON.parse(await redisCli(sentinel!.replica.port, 'GET', `${s().prefix}run:${after}`)).status).toBe('succeeded');
  });
});
