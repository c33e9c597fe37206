import { describe, expect, it } from '@jest/globals';
import { ApiEnv, parseEnv, redactUrl, WorkerEnv } from '../src/index.js';

describe('REDIS_URL', () => {
  it('refuses what ioredis would throw a stack for or SELECT as NaN, in one line naming it', () => {
    const cases: Array<[string, RegExp]> = [
      ['redis://127.0.0.1:99999', /the port 99999 is not a port between 1 and 65535$/],
      ['redis://127.0.0.1:abc', /the port "abc" is not a port between 1 and 65535$/],
      ['redis://127.0.0.1:0', /the port 0 is not a port between 1 and 65535$/],
      ['redis://[::1', /not a URL: expected redis:\/\/\[user:password@\]host\[:port\]\[\/db\]/],
      ['redis://127.0.0.1:6379/abc', /the database "abc" is not a whole number/],
      ['redis://127.0.0.1:6379/-1', /the database "-1" is not a whole number/],
      ['redis://127.0.0.1:6379/1.5', /the database "1.5" is not a whole number/],
      ['redis://127.0.0.1:6379?db=x', /the database "x" is not a whole number/],
      ['redis://', /no host/],
      ['localhost:6379', /expected redis:\/\//],
    ];
    for (const [url, message] of cases) {
      for (const schema of [ApiEnv, WorkerEnv]) {
        expect(() => parseEnv(schema, { REDIS_URL: url })).toThrow(/^invalid configuration: REDIS_URL=/);
        expect(() => parseEnv(schema, { REDIS_URL: url })).toThrow(message);
      }
    }
  });

  it('takes every usual form', () => {
    for (const url of ['redis://127.0.0.1:6379', 'redis://h', 'redis://h:6379/0', 'redis://h/15', 'rediss://user:p%40ss@h:6380/2', 'redis://[::1]:6379', 'redis://h:6379?db=3', 'redis://h/']) {
      expect(parseEnv(WorkerEnv, { REDIS_URL: url }).REDIS_URL).toBe(url);
    }
    expect(parseEnv(WorkerEnv, { REDIS_URL: '' }).REDIS_URL).toBe('redis://127.0.0.1:6379');
  });

  it('never quotes a password or query value in the error line', () => {
    expect(() => parseEnv(WorkerEnv, { REDIS_URL: 'redis://:s3cret@127.0.0.1:6379/x?password=s3cret' }))
      .toThrow(/^invalid configuration: REDIS_URL="redis:\/\/\*\*\*@127\.0\.0\.1:6379\/x\?password=\*\*\*": the database "x"/);
    expect(() => parseEnv(WorkerEnv, { REDIS_URL: 'redis://:s3cret@127.0.0.1:99999' })).not.toThrow(/s3cret/);
  });
});

describe('Cluster and Sentinel node lists', () => {
  it('refuse a bad or missing port, and a value that lists nothing', () => {
    for (const [name, value] of [['REDIS_CLUSTER_NODES', 'h:0'], ['REDIS_CLUSTER_NODES', 'h:99999'], ['REDIS_SENTINELS', 'h:abc'], ['REDIS_SENTINELS', '[::1:26379']]) {
      expect(() => parseEnv(WorkerEnv, { [name!]: value, KEY_PREFIX: '{s}:' })).toThrow(new RegExp(`^invalid configuration: ${name}=.*a port between 1 and 65535`));
    }
    for (const value of [',', ' , ', ' ']) {
      expect(() => parseEnv(ApiEnv, { REDIS_SENTINELS: value })).toThrow(/^invalid configuration: REDIS_SENTINELS=.*no host:port in it/);
      expect(() => parseEnv(ApiEnv, { REDIS_CLUSTER_NODES: value, KEY_PREFIX: '{s}:' })).toThrow(/^invalid configuration: REDIS_CLUSTER_NODES=.*no host:port in it/);
    }
    expect(parseEnv(ApiEnv, { REDIS_CLUSTER_NODES: '', REDIS_SENTINELS: '' })).toMatchObject({ REDIS_CLUSTER_NODES: [], REDIS_SENTINELS: [] });
  });

  it('read an empty REDIS_SENTINEL_NAME as the default, as compose passes it', () => {
    expect(parseEnv(WorkerEnv, { REDIS_SENTINEL_NAME: '' }).REDIS_SENTINEL_NAME).toBe('mymaster');
  });
});

describe('GATEWAY_URL', () => {
  it('refuses a query string or fragment: the gateway client would drop them silently', () => {
    for (const url of ['http://user:s3cret@host/?token=abc', 'http://host:8000/base?x=1', 'http://host/#frag', 'http://host/?']) {
      for (const schema of [ApiEnv, WorkerEnv]) {
        expect(() => parseEnv(schema, { GATEWAY_URL: url })).toThrow(/^invalid configuration: GATEWAY_URL=.*a query string or fragment would be dropped .*SUPERVISOR_API_KEY/);
        expect(() => parseEnv(schema, { GATEWAY_URL: url })).not.toThrow(/s3cret|abc/);
      }
    }
  });

  it('keeps user info for the client, and redactUrl shows scheme, host, port and path only', () => {
    const env = parseEnv(WorkerEnv, { GATEWAY_URL: 'https://user:s3cret@gw.internal:8443/base/' });
    expect(env.GATEWAY_URL).toBe('https://user:s3cret@gw.internal:8443/base');
    expect(redactUrl(env.GATEWAY_URL)).toBe('https://gw.internal:8443/base');
    expect(redactUrl('http://tok@router:8000')).toBe('http://router:8000');
    expect(redactUrl('http://router:8000')).toBe('http://router:8000');
  });
});
