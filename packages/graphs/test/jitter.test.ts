import { describe, expect, it } from '@jest/globals';
import { jittered } from '../src/jitter.js';

describe('jittered poll delay', () => {
  it('stays within ±10 %, is the same for the same seed, and spreads evenly across seeds', () => {
    const delays = Array.from({ length: 10_000 }, (_, i) => jittered(3_000, `gr_${i.toString(36)}:${(i % 7) + 1}`));
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(2_700);
    expect(Math.max(...delays)).toBeLessThanOrEqual(3_300);
    expect(jittered(3_000, 'gr_abc:4')).toBe(jittered(3_000, 'gr_abc:4'));
    // ten 60 ms buckets across the range, each with about a tenth of the delays
    const buckets = Array.from({ length: 10 }, () => 0);
    for (const d of delays) buckets[Math.min(9, Math.floor((d - 2_700) / 60))]!++;
    for (const b of buckets) expect(b).toBeGreaterThan(800);
    const mean = delays.reduce((a, b) => a + b, 0) / delays.length;
    expect(Math.abs(mean - 3_000)).toBeLessThan(15);
  });

  it('gives consecutive polls of one run different delays, and a zero spread gives the base', () => {
    const polls = [1, 2, 3, 4, 5].map((n) => jittered(30_000, `gr_x:${n}`));
    expect(new Set(polls).size).toBe(5);
    expect(jittered(3_000, 'gr_x:1', 0)).toBe(3_000);
  });
});
