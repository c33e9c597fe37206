import { describe, expect, it } from '@jest/globals';
import { until } from '../src/index.js';

describe('until', () => {
  it('returns the first truthy answer, sync or async', async () => {
    let n = 0;
    await expect(until('n to reach 3', () => (++n >= 3 ? n : false), 5_000, 1)).resolves.toBe(3);
    await expect(until('a value', async () => 'v')).resolves.toBe('v');
  });

  it('fails naming what it waited for once the deadline has passed', async () => {
    await expect(until('the impossible', () => false, 30, 5)).rejects.toThrow('timed out waiting for the impossible');
  });

  it('fails at once on an error, or with tolerateErrors polls on and names the last error at the deadline', async () => {
    let calls = 0;
    const boom = () => { calls++; throw new Error('not up yet'); };
    await expect(until('x', boom, 5_000, 1)).rejects.toThrow('not up yet');
    expect(calls).toBe(1);
    await expect(until('the API', boom, 30, 5, true)).rejects.toThrow('timed out waiting for the API: Error: not up yet');
    expect(calls).toBeGreaterThan(2);
    let n = 0;
    await expect(until('recovery', () => { if (++n < 3) throw new Error('down'); return 'up'; }, 5_000, 1, true)).resolves.toBe('up');
  });
});
