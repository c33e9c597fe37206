import { describe, expect, it } from '@jest/globals';
import { event, type RunEvent } from '@sup/contracts';
import { cliHarness } from './harness.js';

// The events JSON answers at most 1000 a page and says where the next starts (next_after).
const h = cliHarness();
const { cli, created, open } = h;

/** A run with `n` events after run_created, the last of them its end when `end`. */
async function longRun(n: number, end: boolean): Promise<string> {
  const id = await created();
  const rec = (await open.store.get(id))!;
  for (let i = 0; i < n; i += 500) {
    const batch = Array.from({ length: Math.min(500, n - i) }, (_, j) => event('node_waiting', 'poll_job', { n: i + j }));
    if (end && i + 500 >= n) batch[batch.length - 1] = event('run_failed', undefined, { n: n - 1 });
    const last = end && i + 500 >= n;
    const res = await open.store.commit(id, { ifStatus: ['queued'], record: last ? { ...rec, status: 'failed', finished_at: new Date().toISOString() } : rec, events: batch });
    expect(res.ok).toBe(true);
  }
  return id;
}

const numbers = (out: string) => out.split('\n').map((l) => (JSON.parse(l) as RunEvent).data?.n ?? -1);
const upTo = (n: number) => [-1, ...Array.from({ length: n }, (_, i) => i)];

describe('supervisor runs events: every page', () => {
  it('prints all 2 501 events of a run, in order, once each', async () => {
    const id = await longRun(2500, false);
    const urls: string[] = [];
    const res = await cli(['runs', 'events', id, '--json'], { fetch: (u, init) => (urls.push(String(u)), fetch(u, init)) });
    expect(res.code).toBe(0);
    expect(numbers(res.out)).toEqual(upTo(2500));
    // three pages: the first without `after`, the next two from next_after
    expect(urls.map((u) => new URL(u).searchParams.get('after'))).toEqual([null, expect.stringMatching(/^\d+-\d+$/), expect.stringMatching(/^\d+-\d+$/)]);
  });

  it('--follow polling a finished run prints every page up to its end (not the first page, then stop)', async () => {
    const id = await longRun(1500, true);
    // a server that does not stream: the JSON is polled
    const noStreaming: typeof fetch = (input, init) => fetch(input, { ...init, headers: { ...(init?.headers as Record<string, string>), accept: 'application/json' } });
    const res = await cli(['runs', 'events', id, '--follow', '--json'], { fetch: noStreaming });
    expect(res.code).toBe(0);
    expect(numbers(res.out)).toEqual(upTo(1500));
    expect(JSON.parse(res.out.split('\n').at(-1)!).type).toBe('run_failed');
  });

  it('an API from before next_after answers one page, and that is all there is to print', async () => {
    const id = await longRun(3, false);
    const old: typeof fetch = async (input, init) => {
      const res = await fetch(input, init);
      const { next_after: _n, ...body } = (await res.json()) as Record<string, unknown>;
      return new Response(JSON.stringify(body), { status: res.status, headers: res.headers });
    };
    const res = await cli(['runs', 'events', id, '--json'], { fetch: old });
    expect(numbers(res.out)).toEqual(upTo(3));
  });
});
