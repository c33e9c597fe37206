import { describe, expect, it } from '@jest/globals';
import { ApiEnv, ConfigError, parseEnv, WorkerEnv } from '../src/index.js';

describe('config', () => {
  it('applies the documented defaults', () => {
    const api = parseEnv(ApiEnv, {});
    expect(api).toMatchObject({ PORT: 8084, RUN_TTL_SEC: 86_400, REDIS_URL: 'redis://127.0.0.1:6379', GATEWAY_URL: 'http://router:8000', API_KEYS: [] });
    expect(parseEnv(WorkerEnv, {}).JOB_POLL_INTERVAL_SEC).toBe(3);
  });

  it('parses lists and numbers', () => {
    const api = parseEnv(ApiEnv, { API_KEYS: 'a, b,,c', PORT: '0' });
    expect(api.API_KEYS).toEqual(['a', 'b', 'c']);
    expect(api.PORT).toBe(0);
  });

  it('fails with one line naming the variable', () => {
    expect(() => parseEnv(ApiEnv, { PORT: 'eighty' })).toThrow(ConfigError);
    expect(() => parseEnv(ApiEnv, { PORT: 'eighty' })).toThrow(/^invalid configuration: PORT="eighty": expected an integer/);
    expect(() => parseEnv(WorkerEnv, { REDIS_URL: 'localhost:6379' })).toThrow(/REDIS_URL="localhost:6379"/);
    expect(() => parseEnv(ApiEnv, { LOG_FORMAT: 'xml' })).toThrow(/LOG_FORMAT/);
  });
});
