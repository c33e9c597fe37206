import { afterAll, describe, expect, it } from '@jest/globals';
import { PassThrough } from 'node:stream';
import request from 'supertest';
import { AppError } from '@sup/contracts';
import { createLogger } from '@sup/logging';
import type { MemoryUse } from '@sup/run-store';
import { Admission } from '../src/admission.js';
import { testApp } from './helpers.js';

const MB = 1024 * 1024;

/** An Admission over readings the test sets, on a clock the test moves. */
function admission(limitPct: number) {
  const lines: string[] = [];
  const stream = new PassThrough();
  stream.on('data', (b: Buffer) => lines.push(...b.toString().trim().split('\n')));
  let use: MemoryUse | null | Error = { used: 50 * MB, max: 100 * MB };
  let t = 0;
  let reads = 0;
  const a = new Admission({
    limitPct, log: createLogger({ service: 'test', stream }), now: () => t, maxAgeMs: 1_000,
    read: async () => { reads++; if (use instanceof Error) throw use; return use; },
  });
  return {
    a, lines,
    set: (u: MemoryUse | null | Error) => (use = u),
    tick: (ms: number) => (t += ms),
    reads: () => reads,
  };
}
const refusal = (p: Promise<void>) => p.then(() => null, (e: unknown) => e as AppError);

describe('Admission (load shedding while Redis is nearly full)', () => {
  it('admits below the limit and refuses from it on with 503 over_capacity, saying how full Redis is', async () => {
    const x = admission(90);
    await expect(x.a.check()).resolves.toBeUndefined();
    x.set({ used: 90 * MB, max: 100 * MB });
    x.tick(1_000);
    const e = await refusal(x.a.check());
    expect(e).toBeInstanceOf(AppError);
    expect([e!.status, e!.code, e!.details]).toEqual([503, 'over_capacity', { used_memory: 90 * MB, maxmemory: 100 * MB, limit_pct: 90 }]);
    expect(e!.message).toBe('Redis is at 90 % of its maxmemory (ADMISSION_MEMORY_PCT=90): new runs are refused so that the runs in flight can finish; retry later');
    // one line when refusing starts, one when it ends
    x.set({ used: 10 * MB, max: 100 * MB });
    x.tick(1_000);
    await x.a.check();
    expect(x.lines.map((l) => l.replace(/^\S+ /, ''))).toEqual([
      `[WARN] admission_refusing used_memory=${90 * MB} maxmemory=${100 * MB} limit_pct=90`,
      `[INFO] admission_accepting used_memory=${10 * MB} maxmemory=${100 * MB} limit_pct=90`,
    ]);
  });

  it('reads Redis at most once per interval, once for creates that arrive together', async () => {
    const x = admission(90);
    await Promise.all([x.a.check(), x.a.check(), x.a.check()]);
    expect(x.reads()).toBe(1);
    x.tick(999);
    await x.a.check();
    expect(x.reads()).toBe(1);
    x.tick(1);
    await x.a.check();
    expect(x.reads()).toBe(2);
  });

  it('admits when no maxmemory is set, when Redis cannot be read, and never reads with the limit at 0', async () => {
    const x = admission(90);
    x.set(null);
    await expect(x.a.check()).resolves.toBeUndefined();
    x.set(new Error('connect ECONNREFUSED'));
    x.tick(1_000);
    await expect(x.a.check()).resolves.toBeUndefined();
    const off = admission(0);
    off.set({ used: 100 * MB, max: 100 * MB });
    await expect(off.a.check()).resolves.toBeUndefined();
    expect(off.reads()).toBe(0);
  });
});

describe('POST /v1/graphs/:graph/runs while Redis is nearly full', () => {
  const full = admission(90);
  full.set({ used: 95 * MB, max: 100 * MB });
  const t = testApp({}, undefined, { admission: full.a });
  afterAll(() => t.close());
  const body = { agent_id: 'sofiia', input: { service: 'billing', version: '1.2.3' } };

  it('answers 503 over_capacity with Retry-After and creates nothing; bad input still gets its 400', async () => {
    const res = await request(t.app).post('/v1/graphs/release_check/runs').send(body);
    expect([res.status, res.headers['retry-after'], res.body.error.code, res.body.error.details])
      .toEqual([503, '30', 'over_capacity', { used_memory: 95 * MB, maxmemory: 100 * MB, limit_pct: 90 }]);
    expect((await t.store.list({ limit: 10 })).runs).toEqual([]);
    expect(await t.queue.getJobCounts('waiting', 'delayed')).toEqual({ waiting: 0, delayed: 0 });
    const bad = await request(t.app).post('/v1/graphs/release_check/runs').send({ agent_id: 'sofiia', input: {} });
    expect([bad.status, bad.body.error.code]).toEqual([400, 'validation_failed']);
  });

  it('says so in /healthz and counts the refused creates in /metrics while it lasts', async () => {
    const before = full.a.refused;
    await request(t.app).post('/v1/graphs/release_check/runs').send(body).expect(503);
    const health = await request(t.app).get('/healthz');
    expect(health.status).toBe(200);
    expect(health.body.warnings).toEqual([expect.stringMatching(/^new runs refused \(503 over_capacity\): Redis at 95 % of its maxmemory, ADMISSION_MEMORY_PCT=90$/)]);
    const metrics = await request(t.app).get('/metrics');
    expect(metrics.text).toContain(`sup_api_creates_refused_total ${before + 1}`);
    // memory freed: accepting again, and no warning
    full.set({ used: 10 * MB, max: 100 * MB });
    full.tick(1_000);
    await request(t.app).post('/v1/graphs/release_check/runs').send(body).expect(202);
    expect((await request(t.app).get('/healthz')).body.warnings).toBeUndefined();
  });
});
