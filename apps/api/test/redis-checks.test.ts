import { EventEmitter } from 'node:events';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from '@jest/globals';
import { createLogger } from '@sup/logging';
import type { RedisClient } from '@sup/run-store';
import { RedisChecks } from '../src/redis-checks.js';

/** Just what the checks ask of a connection; `settings` is what "Redis" answers right now. */
class FakeRedis extends EventEmitter {
  settings = { policy: 'noeviction', minReplicas: 0, replicas: 1, refuse: false };
  async ping() {
    return 'PONG';
  }
  async config(_get: string, name: string) {
    if (this.settings.refuse) throw new Error("ERR unknown command 'CONFIG'");
    return [name, name === 'maxmemory-policy' ? this.settings.policy : String(this.settings.minReplicas)];
  }
  async info() {
    return `# Replication\r\nrole:master\r\nconnected_slaves:${this.settings.replicas}\r\n`;
  }
}

function setup(mode: 'standalone' | 'sentinel') {
  const redis = new FakeRedis();
  const out = new PassThrough();
  const lines: string[] = [];
  out.on('data', (b: Buffer) => lines.push(...b.toString().split('\n').filter(Boolean)));
  const checks = new RedisChecks(redis as unknown as RedisClient, mode, createLogger({ service: 'api-test', stream: out }));
  // winston writes asynchronously: the lines of a run are there after a turn of the event loop
  const logged = async (re: RegExp) => {
    await new Promise((r) => setImmediate(r));
    return lines.filter((l) => re.test(l));
  };
  return { redis, checks, logged };
}

describe('RedisChecks', () => {
  it('warns once per problem, keeps it for /healthz while it lasts and drops it when fixed', async () => {
    const { redis, checks, logged } = setup('sentinel');
    await checks.run();
    expect(checks.warnings()).toEqual([expect.stringContaining('min-replicas-to-write is 0 behind Sentinel')]);
    await checks.run();
    expect(await logged(/\[WARN\] redis_replication_unsafe min_replicas_to_write=0 replicas=1/)).toHaveLength(1);

    redis.settings.minReplicas = 1; // one replica: safe, but a failover stops writes
    await checks.run();
    expect(checks.warnings()).toEqual([expect.stringMatching(/^redis master has 1 replica\(s\) and min-replicas-to-write 1: after a failover/)]);
    expect(await logged(/\[WARN\] redis_replication_fragile min_replicas_to_write=1 replicas=1/)).toHaveLength(1);

    redis.settings.replicas = 0; // fewer than the setting: refusing writes right now
    await checks.run();
    expect(checks.warnings()[0]).toContain('it refuses writes now');

    redis.settings.replicas = 2;
    redis.settings.policy = 'allkeys-lru';
    await checks.run();
    expect(checks.warnings()).toEqual(['redis maxmemory-policy is allkeys-lru; BullMQ needs noeviction']);
    expect(await logged(/\[INFO\] redis_check_ok check=replication/)).toHaveLength(1);
  });

  it('checks replication only behind Sentinel', async () => {
    const { checks } = setup('standalone');
    await checks.run();
    expect(checks.warnings()).toEqual([]);
  });

  it('logs a check Redis cannot answer once, keeps what it knew, and checks again on the next ready', async () => {
    const { redis, checks, logged } = setup('sentinel');
    await checks.start();
    expect(checks.warnings()).toHaveLength(1);
    redis.settings.refuse = true;
    await checks.run();
    await checks.run();
    expect(await logged(/\[WARN\] redis_replication_unknown error=/)).toHaveLength(1);
    expect(await logged(/\[WARN\] redis_eviction_policy_unknown error=/)).toHaveLength(1);
    expect(checks.warnings()).toHaveLength(1);

    // a reconnect (after a failover: another master, with its own settings) runs the checks again
    redis.settings = { policy: 'noeviction', minReplicas: 1, replicas: 2, refuse: false };
    redis.emit('ready');
    const deadline = Date.now() + 5_000;
    while (checks.warnings().length > 0 && Date.now() < deadline) await new Promise((r) => setImmediate(r));
    expect(checks.warnings()).toEqual([]);
  });
});
