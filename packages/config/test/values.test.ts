import { describe, expect, it } from '@jest/globals';
import { ApiEnv, parseEnv, WorkerEnv } from '../src/index.js';

describe('API_KEYS', () => {
  it('refuses a value that lists no key: it would start with authentication off', () => {
    for (const value of [',', ' ', ' , ,']) {
      expect(() => parseEnv(ApiEnv, { API_KEYS: value }))
        .toThrow(/^invalid configuration: API_KEYS=\(hidden\): set but lists nothing: give comma-separated entries, or unset it to run without authentication$/);
    }
    expect(parseEnv(ApiEnv, { API_KEYS: '' }).API_KEYS).toEqual([]);
    expect(parseEnv(ApiEnv, {}).API_KEYS).toEqual([]);
  });

  it('refuses a key no Authorization header can carry (outside printable ASCII), never quoting the keys', () => {
    for (const value of ['clé', 'good,ключ', 'tab\there']) {
      expect(() => parseEnv(ApiEnv, { API_KEYS: value })).toThrow(/^invalid configuration: API_KEYS=\(hidden\): key \d of \d has a character outside printable ASCII/);
    }
    expect(parseEnv(ApiEnv, { API_KEYS: 'k-1,K_2.x~!' }).API_KEYS).toEqual(['k-1', 'K_2.x~!']);
  });
});

describe('LOG_FORMAT', () => {
  it('reads empty as the default and any case, like LOG_LEVEL', () => {
    expect(parseEnv(WorkerEnv, { LOG_FORMAT: '' }).LOG_FORMAT).toBe('text');
    expect(parseEnv(ApiEnv, { LOG_FORMAT: 'JSON' }).LOG_FORMAT).toBe('json');
    expect(parseEnv(ApiEnv, { LOG_FORMAT: 'Text' }).LOG_FORMAT).toBe('text');
    expect(() => parseEnv(ApiEnv, { LOG_FORMAT: 'xml' })).toThrow(/^invalid configuration: LOG_FORMAT="xml"/);
  });

  it('reads an empty HOST as the default', () => {
    expect(parseEnv(ApiEnv, { HOST: '' }).HOST).toBe('0.0.0.0');
  });
});

describe('numeric variables', () => {
  it('take plain decimal only: no hex, binary, exponents or signs', () => {
    const cases: Array<[typeof ApiEnv | typeof WorkerEnv, string, string]> = [
      [ApiEnv, 'PORT', '0x50'], [ApiEnv, 'PORT', '0b1'], [ApiEnv, 'PORT', '0o17'], [ApiEnv, 'PORT', '+80'], [ApiEnv, 'PORT', '8_084'],
      [WorkerEnv, 'WORKER_CONCURRENCY', '1e1'], [WorkerEnv, 'WORKER_CONCURRENCY', '10.0'],
      [WorkerEnv, 'JOB_POLL_INTERVAL_SEC', '1e-1'], [WorkerEnv, 'JOB_POLL_INTERVAL_SEC', 'Infinity'], [WorkerEnv, 'JOB_POLL_INTERVAL_SEC', '0x1'],
    ];
    for (const [schema, name, value] of cases) {
      expect(() => parseEnv(schema, { [name]: value })).toThrow(new RegExp(`^invalid configuration: ${name}="${value.replace(/[.+]/g, '\\$&')}": expected an? (integer|number) between .* only\\)$`));
    }
  });

  it('still read decimals, fractions where allowed, blanks as the default', () => {
    expect(parseEnv(ApiEnv, { PORT: '080' }).PORT).toBe(80);
    expect(parseEnv(ApiEnv, { PORT: ' 8085 ' }).PORT).toBe(8085);
    expect(parseEnv(ApiEnv, { PORT: ' ' }).PORT).toBe(8084);
    expect(parseEnv(WorkerEnv, { JOB_POLL_INTERVAL_SEC: '0.5' }).JOB_POLL_INTERVAL_SEC).toBe(0.5);
    expect(parseEnv(WorkerEnv, { JOB_POLL_INTERVAL_SEC: '.25' }).JOB_POLL_INTERVAL_SEC).toBe(0.25);
    expect(parseEnv(WorkerEnv, { JOB_POLL_INTERVAL_SEC: '2.' }).JOB_POLL_INTERVAL_SEC).toBe(2);
  });
});

describe('WEBHOOK_ALLOWED_HOSTS', () => {
  it('checks ports, and refuses a value that lists nothing (it would allow every host)', () => {
    for (const value of ['x.com:99999', 'x.com:0', '*.corp.example:65536', '[::1]:70000']) {
      expect(() => parseEnv(ApiEnv, { WEBHOOK_ALLOWED_HOSTS: value })).toThrow(/^invalid configuration: WEBHOOK_ALLOWED_HOSTS=.*not a host, host:port \(port 1-65535\) or \*\.domain/);
      expect(() => parseEnv(WorkerEnv, { WEBHOOK_ALLOWED_HOSTS: value })).toThrow(/WEBHOOK_ALLOWED_HOSTS/);
    }
    expect(() => parseEnv(WorkerEnv, { WEBHOOK_ALLOWED_HOSTS: ',' })).toThrow(/^invalid configuration: WEBHOOK_ALLOWED_HOSTS=",": set but lists nothing.*unset it to allow any host$/);
    expect(parseEnv(ApiEnv, { WEBHOOK_ALLOWED_HOSTS: 'x.com:65535,[::1]:1' }).WEBHOOK_ALLOWED_HOSTS).toEqual(['x.com:65535', '[::1]:1']);
  });
});
