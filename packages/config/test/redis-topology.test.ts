import { describe, expect, it } from '@jest/globals';
import { ApiEnv, hasLeadingHashTag, parseEnv, WorkerEnv } from '../src/index.js';

describe('Redis topology configuration', () => {
  it('defaults to standalone Redis', () => {
    const env = parseEnv(WorkerEnv, {});
    expect(env).toMatchObject({ REDIS_CLUSTER_NODES: [], REDIS_SENTINELS: [], REDIS_SENTINEL_NAME: 'mymaster', REDIS_PASSWORD: '' });
  });

  it('parses cluster seed nodes, IPv6 included', () => {
    const env = parseEnv(ApiEnv, { REDIS_CLUSTER_NODES: 'redis-1:7000, 10.0.0.2:7001,[::1]:7002', KEY_PREFIX: '{sup}:' });
    expect(env.REDIS_CLUSTER_NODES).toEqual([{ host: 'redis-1', port: 7000 }, { host: '10.0.0.2', port: 7001 }, { host: '::1', port: 7002 }]);
  });

  it('refuses a cluster without a hash-tagged KEY_PREFIX, naming the variable', () => {
    for (const prefix of [undefined, 'sup:', '{}:', 'sup}:{x']) {
      expect(() => parseEnv(WorkerEnv, { REDIS_CLUSTER_NODES: '127.0.0.1:7000', ...(prefix === undefined ? {} : { KEY_PREFIX: prefix }) }))
        .toThrow(/^invalid configuration: KEY_PREFIX=.*must contain a hash tag such as "\{sup\}:"/);
    }
    expect(parseEnv(WorkerEnv, { REDIS_CLUSTER_NODES: '127.0.0.1:7000', KEY_PREFIX: 'prod:{sup}:' }).KEY_PREFIX).toBe('prod:{sup}:');
  });

  it('refuses malformed node lists and cluster plus sentinels together', () => {
    expect(() => parseEnv(ApiEnv, { REDIS_CLUSTER_NODES: '127.0.0.1', KEY_PREFIX: '{sup}:' })).toThrow(/^invalid configuration: REDIS_CLUSTER_NODES="127.0.0.1": expected comma-separated host:port/);
    expect(() => parseEnv(ApiEnv, { REDIS_SENTINELS: 'h:99999' })).toThrow(/REDIS_SENTINELS/);
    expect(() => parseEnv(ApiEnv, { REDIS_CLUSTER_NODES: 'a:1', REDIS_SENTINELS: 'b:2', KEY_PREFIX: '{s}:' })).toThrow(/either REDIS_CLUSTER_NODES or REDIS_SENTINELS/);
  });

  it('knows which prefixes pin a slot the way Redis hashes keys', () => {
    expect(hasLeadingHashTag('{sup}:')).toBe(true);
    expect(hasLeadingHashTag('a:{b}')).toBe(true);
    expect(hasLeadingHashTag('{}:{b}')).toBe(false); // Redis hashes the whole key when the first tag is empty
    expect(hasLeadingHashTag('{sup')).toBe(false);
    expect(hasLeadingHashTag('')).toBe(false);
  });
});
