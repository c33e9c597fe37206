import { describe, expect, it } from '@jest/globals';
import { isoTime } from '../src/time.js';

describe('isoTime', () => {
  it('equals Date#toISOString across second, minute, hour, day, month, year and leap-day edges', () => {
    const edges = [
      0, 999, 1_000, 59_999, 60_000, 3_599_999, 3_600_000, 86_399_999,
      Date.UTC(2024, 1, 29, 23, 59, 59, 999), Date.UTC(2024, 2, 1), Date.UTC(2026, 11, 31, 23, 59, 59, 999), Date.UTC(2027, 0, 1),
      Date.UTC(9999, 11, 31, 23, 59, 59, 999),
    ];
    for (const ms of edges) for (const d of [-1, 0, 1]) if (ms + d >= 0) expect(isoTime(ms + d)).toBe(new Date(ms + d).toISOString());
  });

  it('equals Date#toISOString for random times, in and out of order (the per-minute cache)', () => {
    let seed = 42;
    const rnd = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
    const base = Date.UTC(2026, 10, 28);
    for (let i = 0; i < 20_000; i++) {
      const ms = i % 2 ? base + Math.floor(rnd() * 3_600_000) : Math.floor(rnd() * 253_402_300_799_999);
      expect(isoTime(ms)).toBe(new Date(ms).toISOString());
    }
  });

  it('defaults to now and leaves odd inputs to Date', () => {
    const before = Date.now();
    const t = Date.parse(isoTime());
    expect(t).toBeGreaterThanOrEqual(before);
    expect(t).toBeLessThanOrEqual(Date.now());
    expect(isoTime(-1)).toBe(new Date(-1).toISOString());
    expect(isoTime(1.5)).toBe(new Date(1.5).toISOString());
    expect(() => isoTime(Number.NaN)).toThrow(RangeError);
  });
});
