import { afterAll, describe, expect, it } from '@jest/globals';
import type { Job } from 'bullmq';
import { graphs } from '@sup/graphs';
import type { RunRecord, TickJobData } from '@sup/contracts';
import { submitRun } from '@sup/queue';
import { until } from '@sup/testkit';
import { fireSchedule, scheduleKey, type FireDeps } from '../src/fire.js';
import { createTickProcessor } from '../src/processor.js';
import { validateSchedule } from '../src/schema.js';
import { ScheduleStore } from '../src/store.js';
import { hookBefore, testEnv } from './helpers.js';

const env = testEnv('fire');
afterAll(() => env.close());
const store = new ScheduleStore(env.redis, env.prefix);
const deps: FireDeps = { store, submit: env.submit, graphs, log: env.log };

let seq = 0;
async function schedule(over: Record<string, unknown> = {}) {
  const s = validateSchedule({
    id: `s${++seq}`, graph: 'release_check', every_sec: 60, agent_id: 'sofiia', input: { service: 'billing', version: '1.0.0' }, ...over,
  }, graphs, 'api');
  await store.put(s, 'create');
  return s;
}

async function finish(runId: string, status: RunRecord['status'] = 'succeeded') {
  const rec = (await env.runs.get(runId))!;
  const res = await env.runs.commit(runId, { ifStatus: [rec.status], record: { ...rec, status } });
  expect(res.ok).toBe(true);
}

/** Every key the schedule has besides its definition (state, runs, ticks). */
const leftovers = async (id: string) => {
  const k = store.keys;
  return (await Promise.all([k.scheduleState(id), k.scheduleRuns(id), k.scheduleTicks(id)].map(async (key) => ((await env.redis.exists(key)) ? [key] : [])))).flat();
};

/** deps whose store runs `before` ahead of its claim or settle: a delete landing mid-tick. */
const raceBefore = (method: 'claim' | 'settle', before: () => Promise<unknown>): FireDeps => ({ ...deps, store: hookBefore(store, method, before) });

const jobCount = async () => (await env.runQueue.getJobCounts('wait', 'delayed', 'active')) as Record<string, number>;

describe('fireSchedule', () => {
  it('starts a run with trigger {type: schedule, schedule_id, scheduled_at} and records it', async () => {
    const s = await schedule();
    const at = Date.parse('2026-05-01T02:00:00Z');
    const res = await fireSchedule(deps, s.id, { key: String(at), scheduledAt: at });
    if (res.outcome !== 'fired') throw new Error(`expected fired, got ${res.outcome}`);
    expect(res.created).toBe(true);
    expect(res.run).toMatchObject({ graph: 'release_check', agent_id: 'sofiia', status: 'queued', input: { service: 'billing', version: '1.0.0', timeout_sec: 600 } });
    expect(res.run.trigger).toEqual({ type: 'schedule', schedule_id: s.id, scheduled_at: '2026-05-01T02:00:00.000Z' });
    expect(await env.runQueue.getJob(res.run.run_id)).toBeTruthy();
    expect(await store.state(s.id)).toMatchObject({ last_run_id: res.run.run_id, fired: 1, skipped: 0 });
    expect((await store.runs(s.id, 10)).map((r) => r.run_id)).toEqual([res.run.run_id]);
    expect((await store.ticks(s.id, 10))[0]).toMatchObject({ outcome: 'fired', tick: String(at), run_id: res.run.run_id });
  });

  it('uses a run key no API client can send, and adopts no run under it that the schedule did not start', async () => {
    const s = await schedule();
    expect(scheduleKey(s.id, '5000')).toMatch(/ /);
    // what a client that sent the key first would have planted (possible while keys had no spaces)
    const planted = await submitRun(env.submit, { graph: 'incident_triage', agentId: 'sofiia', input: { service: 'planted' }, idempotencyKey: scheduleKey(s.id, '5000') });
    const res = await fireSchedule(deps, s.id, { key: '5000' });
    expect(res).toEqual({ outcome: 'invalid', message: expect.stringContaining(`names run ${planted.record.run_id}, which this schedule did not start`) });
    expect(await store.state(s.id)).toMatchObject({ last_run_id: null, fired: 0 });
    expect(env.lines.join('')).toMatch(new RegExp(`schedule_key_conflict schedule=${s.id} tick=5000 run=${planted.record.run_id}`));
    // the next tick is not held up by it
    expect(await fireSchedule(deps, s.id, { key: '6000' })).toMatchObject({ outcome: 'fired', created: true });
  });

  it('never starts a second run for a re-delivered tick', async () => {
    const s = await schedule({ overlap: 'allow' });
    const first = await fireSchedule(deps, s.id, { key: '1000' });
    const again = await fireSchedule(deps, s.id, { key: '1000' });
    expect(first.outcome).toBe('fired');
    expect(again).toEqual({ outcome: 'duplicate', run_id: (first as { run: RunRecord }).run.run_id });
    expect((await store.runs(s.id, 10)).length).toBe(1);
    expect((await store.state(s.id)).fired).toBe(1);
  });

  it('returns the same run when a tick is re-delivered after its run was created but not yet recorded', async () => {
    const s = await schedule();
    const first = await fireSchedule(deps, s.id, { key: '2000' });
    // as if the first delivery died between submitRun and settle.lua: nothing recorded yet
    await env.redis.del(store.keys.scheduleState(s.id), store.keys.scheduleRuns(s.id));
    const again = await fireSchedule(deps, s.id, { key: '2000' });
    if (first.outcome !== 'fired' || again.outcome !== 'fired') throw new Error('expected both fired');
    expect(again.created).toBe(false);
    expect(again.run.run_id).toBe(first.run.run_id);
    expect(await store.state(s.id)).toMatchObject({ fired: 1, last_run_id: first.run.run_id });
    expect((await store.runs(s.id, 10)).map((r) => r.run_id)).toEqual([first.run.run_id]);
  });

  it('a tick re-delivered after later ticks does not move last_run_id back to its older run', async () => {
    const s = await schedule({ overlap: 'allow' });
    const one = await fireSchedule(deps, s.id, { key: '1' });
    const two = await fireSchedule(deps, s.id, { key: '2' });
    if (one.outcome !== 'fired' || two.outcome !== 'fired') throw new Error('expected both fired');
    const late = await fireSchedule(deps, s.id, { key: '1' });
    expect(late).toEqual({ outcome: 'duplicate', run_id: one.run.run_id });
    expect(await store.state(s.id)).toMatchObject({ fired: 2, last_run_id: two.run.run_id });
  });

  /** What expiry (RUN_TTL_SEC) does to a run: its record and its idempotency key gone. */
  const expire = async (run: RunRecord) =>
    env.redis.del(env.runs.keys.run(run.run_id), env.runs.keys.idem(run.agent_id, scheduleKey(run.trigger!.schedule_id!, String(Date.parse(run.trigger!.scheduled_at!)))));

  it('an old finished tick retried by hand (bull-board) after its run expired starts no new run', async () => {
    const s = await schedule({ overlap: 'allow' });
    const [t1, t2] = [Date.parse('2026-05-01T02:00:00Z'), Date.parse('2026-05-01T03:00:00Z')];
    const one = await fireSchedule(deps, s.id, { key: String(t1), scheduledAt: t1 });
    const two = await fireSchedule(deps, s.id, { key: String(t2), scheduledAt: t2 });
    if (one.outcome !== 'fired' || two.outcome !== 'fired') throw new Error('expected both fired');
    await expire(one.run);
    const before = await jobCount();
    expect(await fireSchedule(deps, s.id, { key: String(t1), scheduledAt: t1 })).toEqual({ outcome: 'duplicate', run_id: one.run.run_id });
    expect(await jobCount()).toEqual(before);
    expect(await store.state(s.id)).toMatchObject({ fired: 2, last_run_id: two.run.run_id });
  });

  it('an older fire time its history does not show as fired is refused as stale: no run, no count, one line', async () => {
    const s = await schedule({ overlap: 'skip' });
    const a = await fireSchedule(deps, s.id, { key: '10' });
    if (a.outcome !== 'fired') throw new Error('expected fired');
    expect((await fireSchedule(deps, s.id, { key: '20' })).outcome).toBe('skipped');
    expect((await fireSchedule(deps, s.id, { key: '30' })).outcome).toBe('skipped');
    const before = await jobCount();
    const lines = env.lines.length;
    // the skipped tick 20 retried (it was not the last skip: counted again before)
    expect(await fireSchedule(deps, s.id, { key: '20' })).toEqual({ outcome: 'stale' });
    // a fire time this schedule never saw, older than its newest
    expect(await fireSchedule(deps, s.id, { key: '15' })).toEqual({ outcome: 'stale' });
    expect(await jobCount()).toEqual(before);
    expect(await store.state(s.id)).toMatchObject({ fired: 1, skipped: 2, last_run_id: a.run.run_id });
    expect((await store.ticks(s.id, 10)).map((t) => t.tick)).toEqual(['30', '20', '10']);
    const stale = env.lines.slice(lines).filter((l) => l.includes('schedule_tick_stale'));
    expect(stale).toHaveLength(2);
    expect(stale[0]).toMatch(new RegExp(`schedule=${s.id} tick=20`));

    // the last run finished: an older fire time is still refused, a newer one and a manual trigger fire
    await finish(a.run.run_id);
    expect(await fireSchedule(deps, s.id, { key: '25' })).toEqual({ outcome: 'stale' });
    expect(await fireSchedule(deps, s.id, { key: 'manual:5' }, { manual: true })).toMatchObject({ outcome: 'fired', created: true });
    expect(await fireSchedule(deps, s.id, { key: '40' })).toMatchObject({ outcome: 'skipped' });
  });

  it('a state written before max_tick (its last tick a manual one) fires an older fire time once, then keeps the newest', async () => {
    const s = await schedule({ overlap: 'allow' });
    expect((await fireSchedule(deps, s.id, { key: '100' })).outcome).toBe('fired');
    // the state an older version left: no max_tick, the last tick a manual one
    await env.redis.hdel(store.keys.scheduleState(s.id), 'max_tick');
    await env.redis.hset(store.keys.scheduleState(s.id), 'last_tick', 'manual:1');
    expect(await fireSchedule(deps, s.id, { key: '50' })).toMatchObject({ outcome: 'fired', created: true });
    expect(await fireSchedule(deps, s.id, { key: '40' })).toEqual({ outcome: 'stale' });
  });

  it('overlap skip: skips while the last run is unfinished (counted once per tick), fires again once it finished', async () => {
    const s = await schedule({ overlap: 'skip' });
    const a = await fireSchedule(deps, s.id, { key: '10' });
    if (a.outcome !== 'fired') throw new Error('expected fired');
    const before = await jobCount();
    expect(await fireSchedule(deps, s.id, { key: '20' })).toEqual({ outcome: 'skipped', running_run_id: a.run.run_id });
    expect(await fireSchedule(deps, s.id, { key: '20' })).toEqual({ outcome: 'skipped', running_run_id: a.run.run_id });
    expect(await fireSchedule(deps, s.id, { key: '30' })).toMatchObject({ outcome: 'skipped' });
    expect(await jobCount()).toEqual(before);
    expect(await store.state(s.id)).toMatchObject({ fired: 1, skipped: 2, last_run_id: a.run.run_id });
    expect((await store.ticks(s.id, 10)).map((t) => t.outcome)).toEqual(['skipped', 'skipped', 'fired']);
    expect(env.lines.some((l) => l.includes('schedule_skip') && l.includes(`schedule=${s.id}`) && l.includes(`running=${a.run.run_id}`))).toBe(true);

    await finish(a.run.run_id, 'failed');
    const b = await fireSchedule(deps, s.id, { key: '40' });
    expect(b.outcome).toBe('fired');
  });

  it('overlap allow: starts a run even while the last one runs', async () => {
    const s = await schedule({ overlap: 'allow' });
    const a = await fireSchedule(deps, s.id, { key: '10' });
    const b = await fireSchedule(deps, s.id, { key: '20' });
    expect([a.outcome, b.outcome]).toEqual(['fired', 'fired']);
    expect((await store.runs(s.id, 10)).length).toBe(2);
  });

  it('a run whose record is gone counts as finished', async () => {
    const s = await schedule();
    const a = await fireSchedule(deps, s.id, { key: '10' });
    if (a.outcome !== 'fired') throw new Error('expected fired');
    await env.redis.del(env.runs.keys.run(a.run.run_id));
    expect((await fireSchedule(deps, s.id, { key: '20' })).outcome).toBe('fired');
  });

  it('a claim left by a claimer whose clock was ten minutes ahead lapses after its lifetime, not ten minutes later', async () => {
    const s = await schedule();
    // the claimer crashed between its claim and its settle (its claim lives 200 ms)
    const ahead = Date.now() + 600_000;
    expect(await store.claim(s.id, { tick: String(ahead), token: 'crashed', skip: false, nowMs: ahead, claimMs: 200, createdAt: s.created_at })).toEqual({ kind: 'ok' });
    // a claimer with the right time: busy while the claim lives, then the tick fires
    const at = ahead + 60_000;
    const res = await until('the tick fired', async () => {
      const r = await fireSchedule(deps, s.id, { key: String(at), scheduledAt: at });
      return r.outcome !== 'busy' && r;
    }, 5_000);
    expect(res.outcome).toBe('fired');
  });

  it('two different ticks at once with overlap skip start exactly one run (the other is busy or skipped)', async () => {
    for (let round = 0; round < 5; round++) {
      const s = await schedule();
      const outs = await Promise.all(['1', '2', '3'].map((k) => fireSchedule(deps, s.id, { key: k })));
      expect(outs.filter((o) => o.outcome === 'fired')).toHaveLength(1);
      expect(outs.every((o) => ['fired', 'busy', 'skipped'].includes(o.outcome))).toBe(true);
      expect((await store.runs(s.id, 10)).length).toBe(1);
    }
  });

  it('a schedule deleted after its tick claimed leaves no state, runs or ticks behind', async () => {
    const s = await schedule();
    const res = await fireSchedule(raceBefore('settle', () => store.remove(s.id)), s.id, { key: '10' });
    // the run was submitted before the delete; it stays a run, the schedule records nothing
    expect(res.outcome).toBe('fired');
    expect(await leftovers(s.id)).toEqual([]);
  });

  it('a schedule deleted after its tick read it claims nothing and writes nothing', async () => {
    const s = await schedule();
    const before = await jobCount();
    expect(await fireSchedule(raceBefore('claim', () => store.remove(s.id)), s.id, { key: '10' })).toEqual({ outcome: 'missing' });
    expect(await leftovers(s.id)).toEqual([]);
    expect(await jobCount()).toEqual(before);
  });

  it('an overlap-skipped tick of a schedule deleted mid-tick counts nothing', async () => {
    const s = await schedule({ overlap: 'skip' });
    expect((await fireSchedule(deps, s.id, { key: '10' })).outcome).toBe('fired');
    expect(await fireSchedule(raceBefore('claim', () => store.remove(s.id)), s.id, { key: '20' })).toEqual({ outcome: 'missing' });
    expect(await leftovers(s.id)).toEqual([]);
  });

  it('a schedule deleted and created again with the same id mid-tick starts clean', async () => {
    const s = await schedule({ overlap: 'allow' });
    const old = await fireSchedule(deps, s.id, { key: '10' });
    if (old.outcome !== 'fired') throw new Error('expected fired');
    const again = { ...s, created_at: new Date(Date.parse(s.created_at) + 1).toISOString() };
    const res = await fireSchedule(raceBefore('settle', async () => {
      await store.remove(s.id);
      await store.put(again, 'create');
    }), s.id, { key: '20' });
    expect(res.outcome).toBe('fired');
    // neither the earlier run nor the one in flight belongs to the new schedule
    expect(await store.state(s.id)).toEqual({ last_run_id: null, last_fired_at: null, last_skip_at: null, fired: 0, skipped: 0 });
    expect(await store.runs(s.id, 10)).toEqual([]);
    expect(await store.ticks(s.id, 10)).toEqual([]);
  });

  it('the tick processor keeps the scheduler of a schedule deleted and created again mid-tick, and removes an orphan\'s', async () => {
    const removed: string[] = [];
    const tickOf = (id: string) => ({ id: `repeat:${id}:1000`, timestamp: 1000, data: { schedule_id: id } }) as unknown as Job<TickJobData>;
    const reborn = await schedule();
    const again = { ...reborn, created_at: new Date(Date.parse(reborn.created_at) + 1).toISOString() };
    const raced = raceBefore('claim', async () => {
      await store.remove(reborn.id);
      await store.put(again, 'create');
    });
    const processor = (d: FireDeps) => createTickProcessor({ ...d, removeScheduler: async (id) => removed.push(id) });
    expect(await processor(raced)(tickOf(reborn.id))).toBe('missing');
    expect(removed).toEqual([]);
    expect(await store.get(reborn.id)).toEqual(again);

    const gone = await schedule();
    expect(await processor(raceBefore('claim', () => store.remove(gone.id)))(tickOf(gone.id))).toBe('missing');
    expect(removed).toEqual([gone.id]);
  });

  it('a schedule created where an older one of its id left state, runs and ticks starts clean', async () => {
    const s = await schedule();
    const k = store.keys;
    await env.redis.del(k.schedule(s.id));
    await env.redis.multi().hset(k.scheduleState(s.id), 'fired', 7, 'last_run_id', 'gr_old').zadd(k.scheduleRuns(s.id), 1, 'gr_old')
      .xadd(k.scheduleTicks(s.id), '*', 'tick', '1', 'outcome', 'fired', 'run_id', 'gr_old', 'at', 1).exec();
    expect(await store.put(s, 'create')).toBe(true);
    expect(await leftovers(s.id)).toEqual([]);
    expect(await store.state(s.id)).toMatchObject({ fired: 0, last_run_id: null });
    // a replace keeps them; a create over an existing definition writes nothing
    expect((await fireSchedule(deps, s.id, { key: '10' })).outcome).toBe('fired');
    expect(await store.put({ ...s, agent_id: 'other' }, 'create')).toBe(false);
    expect(await store.put({ ...s, overlap: 'allow' }, 'replace')).toBe(true);
    expect(await store.get(s.id)).toMatchObject({ agent_id: 'sofiia', overlap: 'allow' });
    expect((await store.state(s.id)).fired).toBe(1);
  });

  it('does nothing for a missing or disabled schedule, and reports an input the graph no longer accepts', async () => {
    expect(await fireSchedule(deps, 'nope', { key: '1' })).toEqual({ outcome: 'missing' });
    const off = await schedule({ enabled: false });
    expect(await fireSchedule(deps, off.id, { key: '1' })).toEqual({ outcome: 'disabled' });
    expect((await fireSchedule(deps, off.id, { key: 'manual:1' }, { manual: true })).outcome).toBe('fired');
    const broken = await schedule();
    await env.redis.set(store.keys.schedule(broken.id), JSON.stringify({ ...broken, input: { service: 7 } }));
    expect(await fireSchedule(deps, broken.id, { key: '1' })).toMatchObject({ outcome: 'invalid', message: expect.stringMatching(/input/) });
  });
});
