import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { ApiEnv, ConfigError, LauncherEnv, numericRange, parseEnv, WorkerEnv } from '../src/index.js';

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

  it('wants RUN_TTL_SEC at least twice JOB_POLL_INTERVAL_SEC: a finished child must outlive its parent\'s next poll', () => {
    expect(() => parseEnv(WorkerEnv, { RUN_TTL_SEC: '60', JOB_POLL_INTERVAL_SEC: '80' }))
      .toThrow(/^invalid configuration: RUN_TTL_SEC="60": must be at least twice JOB_POLL_INTERVAL_SEC \(80\)/);
    expect(parseEnv(WorkerEnv, { RUN_TTL_SEC: '60', JOB_POLL_INTERVAL_SEC: '30' }).RUN_TTL_SEC).toBe(60);
    expect(parseEnv(WorkerEnv, { RUN_TTL_SEC: '60' }).RUN_TTL_SEC).toBe(60);
  });

  it('wants the gateway as an http(s) URL: a bare host:port would pass as a URL with the scheme "router:"', () => {
    for (const bad of ['router:8000', 'localhost:8000', 'ftp://router', 'http//router:8000', 'not a url']) {
      expect(() => parseEnv(WorkerEnv, { GATEWAY_URL: bad })).toThrow(/^invalid configuration: GATEWAY_URL=.*expected an http:\/\/ or https:\/\/ URL/);
      expect(() => parseEnv(ApiEnv, { GATEWAY_URL: bad })).toThrow(/GATEWAY_URL/);
    }
    expect(parseEnv(WorkerEnv, { GATEWAY_URL: 'https://gw.internal:8443/base/' }).GATEWAY_URL).toBe('https://gw.internal:8443/base');
  });

  it('reads WEBHOOK_ALLOWED_HOSTS as host, host:port or *.domain entries, and names the bad ones', () => {
    expect(parseEnv(ApiEnv, { WEBHOOK_ALLOWED_HOSTS: 'hooks.example.com, *.corp.example:8443,10.0.0.7,[::1]' }).WEBHOOK_ALLOWED_HOSTS)
      .toEqual(['hooks.example.com', '*.corp.example:8443', '10.0.0.7', '[::1]']);
    expect(parseEnv(WorkerEnv, {}).WEBHOOK_ALLOWED_HOSTS).toEqual([]);
    expect(() => parseEnv(WorkerEnv, { WEBHOOK_ALLOWED_HOSTS: 'ok.example,https://hooks.example/x,a b' }))
      .toThrow(/^invalid configuration: WEBHOOK_ALLOWED_HOSTS=.*not a host, host:port \(port 1-65535\) or \*\.domain: https:\/\/hooks\.example\/x, a b$/);
  });

  it('the launcher: WORKERS beside the API, and worker ports that stay in range', () => {
    expect(parseEnv(LauncherEnv, {})).toMatchObject({ WORKERS: 2, WORKER_METRICS_PORT: 0, LAUNCHER_LINE_PREFIX: false });
    expect(parseEnv(LauncherEnv, { WORKERS: '0' }).WORKERS).toBe(0);
    expect(() => parseEnv(LauncherEnv, { WORKERS: 'two' })).toThrow(/^invalid configuration: WORKERS="two": expected an integer between 0 and 64/);
    expect(() => parseEnv(LauncherEnv, { WORKERS: '3', WORKER_METRICS_PORT: '65534' }))
      .toThrow(/^invalid configuration: WORKER_METRICS_PORT="65534": with WORKERS=3 the last worker's port would pass 65535/);
    expect(parseEnv(LauncherEnv, { WORKERS: '2', WORKER_METRICS_PORT: '65534' }).WORKER_METRICS_PORT).toBe(65_534);
  });

  it('refuses a KEY_PREFIX whose queues would be those of a deployment without one', () => {
    for (const bad of ['bull', 'bull:']) expect(() => parseEnv(WorkerEnv, { KEY_PREFIX: bad })).toThrow(/^invalid configuration: KEY_PREFIX=.*deployment without a prefix/);
    expect(parseEnv(ApiEnv, { KEY_PREFIX: 'bulls:' }).KEY_PREFIX).toBe('bulls:');
  });

  it('reads LOG_LEVEL in any case, and the Python MVP names WARNING and CRITICAL', () => {
    expect(parseEnv(ApiEnv, { LOG_LEVEL: 'INFO' }).LOG_LEVEL).toBe('info');
    expect(parseEnv(WorkerEnv, { LOG_LEVEL: 'WARNING' }).LOG_LEVEL).toBe('warn');
    expect(parseEnv(WorkerEnv, { LOG_LEVEL: 'critical' }).LOG_LEVEL).toBe('error');
    expect(parseEnv(WorkerEnv, { LOG_LEVEL: '' }).LOG_LEVEL).toBe('info');
    expect(() => parseEnv(WorkerEnv, { LOG_LEVEL: 'verbose' })).toThrow(/^invalid configuration: LOG_LEVEL="verbose"/);
  });
});

describe('documented configuration', () => {
  const root = new URL('../../../', import.meta.url);
  const example = new Map(readFileSync(new URL('.env.example', root), 'utf8').split('\n')
    .map((l) => /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => [m[1]!, m[2]!.replace(/\s+#.*$/, '')]));
  const readme = readFileSync(new URL('README.md', root), 'utf8');
  const schemas = [['api', ApiEnv], ['worker', WorkerEnv], ['launcher', LauncherEnv]] as const;

  it.each(schemas)('.env.example and the README table name every %s variable, and the example shows its default', (_name, schema) => {
    const defaults = parseEnv(schema, {}) as Record<string, unknown>;
    for (const key of Object.keys(schema.shape)) {
      expect([key, example.has(key)]).toEqual([key, true]);
      // a row of the configuration table whose first cell names it (`A`, `B` rows name two)
      expect([key, new RegExp(`^\\| [^|]*\`${key}\``, 'm').test(readme)]).toEqual([key, true]);
      const shown = (parseEnv(schema, { [key]: example.get(key)! }) as Record<string, unknown>)[key];
      expect([key, shown]).toEqual([key, defaults[key]]);
    }
  });

  it.each(schemas)('the README table gives every numeric %s variable its accepted range', (_name, schema) => {
    // 1024 may be written 1 KiB, 4194304 as 4 MiB
    const forms = (n: number) => [String(n), ...(n % 1_048_576 === 0 ? [`${n / 1_048_576} MiB`] : n % 1_024 === 0 ? [`${n / 1_024} KiB`] : [])];
    for (const [key, field] of Object.entries(schema.shape)) {
      const range = numericRange(field as never);
      if (!range) continue;
      const row = new RegExp(`^\\| [^|]*\`${key}\`.*$`, 'm').exec(readme)?.[0] ?? '';
      const stated = forms(range[0]).some((lo) => forms(range[1]).some((hi) => row.includes(`${lo}–${hi}`)));
      expect([key, range, stated]).toEqual([key, range, true]);
    }
  });
});
