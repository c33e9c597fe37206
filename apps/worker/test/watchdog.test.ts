import { describe, expect, it } from '@jest/globals';
import type { Job } from 'bullmq';
import { createLogger } from '@sup/logging';
import { allHealthy, createWatchdog, type WatchdogDeps } from '../src/watchdog.js';

const log = createLogger({ service: 'test', level: 'error', format: 'text' });

function setup(over: Partial<WatchdogDeps> = {}) {
  let t = 0;
  const exits: number[] = [];
  const conn = { status: 'ready', ping: async (): Promise<unknown> => 'PONG' };
  const state = { waiting: 0, running: true };
  const wd = createWatchdog({
    conns: { store: conn }, isRunning: () => state.running, waiting: async () => state.waiting, concurrency: 2,
    isClosing: () => false, log, intervalMs: 1_000, pingTimeoutMs: 20, stuckExitMs: 5_000,
    now: () => t, exit: (c) => void exits.push(c), ...over,
  });
  return { wd, conn, state, exits, advance: (ms: number) => (t += ms) };
}

describe('worker watchdog', () => {
  it('is healthy while every connection answers and jobs are taken', async () => {
    const { wd } = setup();
    expect(await wd.check()).toEqual({ ok: true });
  });

  it('a ready connection that never answers PING is unhealthy at once and exits 1 once stuck long enough', async () => {
    const { wd, conn, exits, advance } = setup();
    conn.ping = () => new Promise(() => undefined);
    const h = await wd.check();
    expect(h.ok).toBe(false);
    expect(h.reason).toMatch(/store did not answer PING/);
    expect(exits).toEqual([]);
    advance(5_000);
    await wd.check();
    expect(exits).toEqual([1]);
  });

  it('a ping Redis refuses (a Cluster whose slot master is down) is unhealthy with the reason, and never exits', async () => {
    const { wd, conn, exits, advance } = setup();
    conn.ping = async () => { throw new Error('Too many Cluster redirections. Last error: Error: Connection is closed.'); };
    for (let i = 0; i < 10; i++) {
      advance(1_000);
      expect(await wd.check()).toEqual({ ok: false, reason: 'redis connection store is refused: Too many Cluster redirections. Last error: Error: Connection is closed.' });
    }
    expect(exits).toEqual([]);
    conn.ping = async () => 1;
    expect(await wd.check()).toEqual({ ok: true });
  });

  it('Redis refusing the fetches (the Worker paused on purpose, jobs waiting) is reported but never counted as stuck', async () => {
    let refusing: string | null = 'redis refuses this worker\'s job fetches since …: OOM command not allowed';
    const { wd, state, exits, advance } = setup({ refusing: () => refusing });
    state.running = false;
    state.waiting = 3;
    for (let i = 0; i < 10; i++) {
      advance(1_000);
      expect(await wd.check()).toEqual({ ok: false, reason: refusing });
    }
    expect(exits).toEqual([]);
    refusing = null;
    state.running = true;
    state.waiting = 0;
    expect(await wd.check()).toEqual({ ok: true });
  });

  it('a connection ioredis is reconnecting is reported but never exits (it recovers by itself)', async () => {
    const { wd, conn, exits, advance } = setup();
    conn.status = 'reconnecting';
    expect((await wd.check()).reason).toMatch(/store is reconnecting/);
    advance(60_000);
    await wd.check();
    expect(exits).toEqual([]);
    conn.status = 'ready';
    expect(await wd.check()).toEqual({ ok: true });
  });

  it('jobs waiting with free slots and none taken over an interval = a stuck blocking connection', async () => {
    const { wd, state, advance } = setup();
    state.waiting = 3;
    advance(10);
    expect((await wd.check()).ok).toBe(true); // first sighting: may be taken any moment
    advance(1_000);
    expect((await wd.check()).reason).toMatch(/3 jobs waiting and 2 free slots, but no job taken/);
    // a job starts: healthy again
    let release!: () => void;
    const run = wd.track(async (_job: Job, _token: string | undefined, _signal?: AbortSignal) => new Promise<string>((r) => (release = () => r('ok'))));
    const p = run({} as Job, 't');
    advance(10);
    state.waiting = 0;
    expect((await wd.check()).ok).toBe(true);
    release();
    await expect(p).resolves.toBe('ok');
  });

  it('a throttled queue is healthy; once the throttle ends, jobs still not taken are stuck after the grace (the Worker sleeping out the limit)', async () => {
    let why: string | null = 'queue runs is at its global concurrency of 1 active jobs';
    const { wd, state, exits, advance } = setup({ throttled: async () => why, throttleGraceMs: 3_000 });
    state.waiting = 3;
    for (let i = 0; i < 10; i++) {
      advance(1_000);
      expect(await wd.check()).toEqual({ ok: true });
    }
    why = null;
    for (let i = 0; i < 3; i++) {
      expect(await wd.check()).toEqual({ ok: true });
      advance(1_000);
    }
    advance(10);
    expect(await wd.check()).toEqual({ ok: true }); // first sighting after the grace
    advance(1_000);
    expect((await wd.check()).reason).toMatch(/3 jobs waiting and 2 free slots, but no job taken/);
    advance(5_000);
    await wd.check();
    expect(exits).toEqual([1]);
  });

  it('a Worker that takes no job is mended in the process first (recover), and the exit stays the last resort', async () => {
    const recovered: string[] = [];
    const { wd, state, exits, advance } = setup({ recover: async (why) => void recovered.push(why), recoverAfterMs: 2_000 });
    state.waiting = 3;
    advance(10);
    await wd.check(); // first sighting
    advance(1_000);
    expect((await wd.check()).ok).toBe(false); // stuck since now
    advance(1_000);
    await wd.check();
    expect(recovered).toEqual([]);
    advance(1_000);
    await wd.check(); // stuck 2 s: the first try
    expect(recovered).toEqual([expect.stringMatching(/^3 jobs waiting and 2 free slots, but no job taken/)]);
    advance(1_000);
    await wd.check();
    expect(recovered).toHaveLength(1); // not again at the next check
    // the fresh Worker takes a job: healthy, no exit
    const run = wd.track(async (_job: Job, _token: string | undefined, _signal?: AbortSignal) => 'ok');
    await run({} as Job, 't');
    state.waiting = 0;
    advance(10_000);
    expect(await wd.check()).toEqual({ ok: true });
    expect(exits).toEqual([]);
  });

  it('a recover that does not help is tried again every 3 × recoverAfterMs, then the process exits as before', async () => {
    const recovered: number[] = [];
    let t = 0;
    const { wd, state, exits, advance } = setup({ recover: async () => void recovered.push(t), recoverAfterMs: 1_000, stuckExitMs: 10_000 });
    state.running = false; // not running (and not paused by the refusal guard)
    for (let i = 0; i <= 10; i++) {
      expect((await wd.check()).reason).toBe('the BullMQ worker is not running');
      advance(1_000);
      t += 1_000;
    }
    expect(recovered).toEqual([1_000, 4_000, 7_000, 10_000]);
    expect(exits).toEqual([1]);
  });

  it('a connection that does not answer PING is not a fetch a fresh Worker mends: no recover, exit as before', async () => {
    const recovered: string[] = [];
    const { wd, conn, exits, advance } = setup({ recover: async (why) => void recovered.push(why), recoverAfterMs: 1_000 });
    conn.ping = () => new Promise(() => undefined);
    for (let i = 0; i <= 5; i++) {
      await wd.check();
      advance(1_000);
    }
    expect([recovered, exits]).toEqual([[], [1]]);
  });

  it('keeps the processor arity, so BullMQ still passes the abort signal', () => {
    const { wd } = setup();
    expect(wd.track(async (_j: Job, _t: string | undefined, _s?: AbortSignal) => 1).length).toBe(3);
  });

  it('allHealthy gives the first failing reason', () => {
    expect(allHealthy(() => ({ ok: true }), () => ({ ok: false, reason: 'b' }), () => ({ ok: false, reason: 'c' }))()).toEqual({ ok: false, reason: 'b' });
    expect(allHealthy(() => ({ ok: true }))()).toEqual({ ok: true });
  });
});
