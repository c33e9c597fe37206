import { describe, expect, it } from '@jest/globals';
import { configFromEnv, readEnv } from '../src/env.js';

describe('environment', () => {
  it('defaults', () => {
    const r = readEnv({});
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.env).toEqual(expect.objectContaining({ SIM_PORT: 8000, SIM_HOST: '127.0.0.1', SIM_LATENCY_MS: 0, SIM_JOB_DURATION_MS: 5000, SIM_RETRY_AFTER_SEC: 1 }));
    expect(configFromEnv(r.env)).toEqual(expect.objectContaining({ forceStatus: null, fail5xxRate: 0 }));
  });

  it('parses values', () => {
    const r = readEnv({ SIM_PORT: '18999', SIM_FAIL_5XX_RATE: '0.25', SIM_FORCE_STATUS: '401', SIM_API_KEY: 'k', SIM_429_RATE: '' });
    expect(r.ok && configFromEnv(r.env)).toEqual(expect.objectContaining({ fail5xxRate: 0.25, forceStatus: 401, rate429: 0 }));
  });

  it('reads LOG_LEVEL and LOG_FORMAT in any case, as the supervisor does (start.sh gives both the same .env)', () => {
    const r = readEnv({ LOG_LEVEL: 'WARNING', LOG_FORMAT: 'JSON' });
    expect(r.ok && [r.env.LOG_LEVEL, r.env.LOG_FORMAT]).toEqual(['warn', 'json']);
    const d = readEnv({ LOG_LEVEL: 'Debug', LOG_FORMAT: 'Text' });
    expect(d.ok && [d.env.LOG_LEVEL, d.env.LOG_FORMAT]).toEqual(['debug', 'text']);
    expect(readEnv({ LOG_FORMAT: 'xml' }).ok).toBe(false);
  });

  it.each([
    ['SIM_FAIL_5XX_RATE', '2'],
    ['SIM_PORT', 'eighty'],
    ['SIM_FORCE_STATUS', '42'],
    ['SIM_TIMEOUT_RATE', '-0.1'],
  ])('invalid %s → one line naming it', (name, value) => {
    const r = readEnv({ [name]: value });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.line).toContain(name);
    expect(r.line).not.toContain('\n');
  });
});
