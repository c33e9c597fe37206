import { describe, expect, it } from '@jest/globals';
import { maskDeep, maskText, redactor, stringsIn } from '../src/index.js';

describe('maskText', () => {
  it('masks e-mails, bearer and JWT tokens, key=value secrets, known key formats and phones', () => {
    const cases: Array<[string, string]> = [
      ['user bob.silva+x@mail.example.co.uk failed', 'user [email] failed'],
      ['Authorization: Bearer abc.def-ghi_123', 'Authorization: [redacted]'],
      ['sent bearer abcdefgh12345678 upstream', 'sent bearer [token] upstream'],
      ['jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMifQ.sig-part', 'jwt [token]'],
      ['retry with api_key=AbC123 and password: hunter2', 'retry with api_key=[redacted] and password: [redacted]'],
      ['key sk_live_51Habcdefgh1234 leaked', 'key [token] leaked'],
      ['session Zx8kQ2mN7pL4vR9tY1wB6cD3fG5h ok', 'session [token] ok'],
      ['call +380 44 123 4567 now', 'call [phone] now'],
    ];
    for (const [raw, masked] of cases) expect(maskText(raw)).toBe(masked);
  });

  it('keeps ordinary log text, hex trace ids, UUIDs and timestamps readable', () => {
    for (const s of [
      'upstream timeout calling payments-db after 3000ms (pool exhausted)',
      'trace 0af7651916cd43dd8448eb211c80319c at 2026-02-23T10:00:01Z',
      'request 123e4567-e89b-12d3-a456-426614174000 took 1840ms',
      'token validation failed for request',
    ]) expect(maskText(s)).toBe(s);
  });
});

describe('redactor', () => {
  it('masks each flagged value anywhere, case-insensitively, and still applies maskText', () => {
    const mask = redactor(['Zebulon Quayle', 'ab', 'x.y@corp.example']);
    expect(mask('GET /customers/zebulon quayle by X.Y@corp.example (ab)')).toBe('GET /customers/[redacted] by [redacted] (ab)');
    expect(redactor([])('mail me: a@b.io')).toBe('mail me: [email]');
  });

  it('maskDeep maps every string of a JSON value; stringsIn skips the named keys', () => {
    const v = { a: ['a@b.io', 1, { b: 'ok', c: null }], d: true };
    expect(maskDeep(v)).toEqual({ a: ['[email]', 1, { b: 'ok', c: null }], d: true });
    expect(stringsIn({ type: 'email', sample: 's1', nested: [{ x: 's2' }], count: 3 }, new Set(['type']))).toEqual(['s1', 's2']);
  });
});
