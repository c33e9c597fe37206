import { afterAll, describe, expect, it } from '@jest/globals';
import { Worker } from 'bullmq';
import { AppError, QUEUES } from '@sup/contracts';
import { graphs } from '@sup/graphs';
import { bullPrefix } from '@sup/queue';
import { createTickProcessor } from '../src/processor.js';
import { validateSchedule } from '../src/schema.js';
import { ScheduleService } from '../src/service.js';
import { configured as cfg, hookBefore, input, serviceEnv, until } from './helpers.js';

const { env, queue, store, svc } = serviceEnv('svc');
const listAll = async () => (await svc.list({ limit: 1000 })).schedules;
afterAll(() => env.close());

describe('ScheduleService over BullMQ job schedulers', () => {
  it('creates a BullMQ job scheduler per schedule, shows next fire times, and removes it on delete', async () => {
    const { created, view: v } = await svc.upsert({ id: 'nightly', graph: 'release_check', cron: '0 2 * * *', tz: 'Europe/Kyiv', agent_id: 'sofiia', input });
    expect(created).toBe(true);
    const j = await queue.getJobScheduler('nightly');
    expect(j).toMatchObject({ key: 'nightly', name: 'tick', pattern: '0 2 * * *', tz: 'Europe/Kyiv', template: { data: { schedule_id: 'nightly' } } });
    expect(v.next_fire_at).toBe(new Date(j!.next!).toISOString());
    expect(v.next_fire_times).toHaveLength(3);
    expect(v.next_fire_times[0]).toBe(v.next_fire_at);
    expect(new Date(v.next_fire_at!).getUTCHours()).toBe(new Date(v.next_fire_times[1]!).getUTCHours());
    const listed = (await listAll()).find((s) => s.id === 'nightly');
    expect(listed).toMatchObject({ id: 'nightly', source: 'api', overlap: 'skip', next_fire_at: v.next_fire_at });

    // the same id again replaces the definition and its BullMQ scheduler, keeping the creation time
    const replaced = await svc.upsert({ id: 'nightly', graph: 'release_check', every_sec: 5, agent_id: 'sofiia', input });
    expect(replaced.created).toBe(false);
    expect(replaced.view).toMatchObject({ every_sec: 5, created_at: v.created_at });
    expect(replaced.view.cron).toBeUndefined();
    expect(await queue.getJobScheduler('nightly')).toMatchObject({ every: 5000 });
    expect((await queue.getJobScheduler('nightly'))?.pattern).toBeUndefined();
    await svc.remove('nightly');
    expect(await queue.getJobScheduler('nightly')).toBeUndefined();
    expect(await store.get('nightly')).toBeNull();
    await expect(svc.get('nightly')).rejects.toBeInstanceOf(AppError);
  });

  it('a schedule created with the id of a deleted one does not inherit what the old one left in Redis', async () => {
    const k = store.keys;
    // what a tick settling after the delete used to leave: state, runs and ticks without a definition
    await env.redis.multi().hset(k.scheduleState('reborn'), 'fired', 3, 'skipped', 1, 'last_run_id', 'gr_old').zadd(k.scheduleRuns('reborn'), 1, 'gr_old')
      .xadd(k.scheduleTicks('reborn'), '*', 'tick', '1', 'outcome', 'fired', 'run_id', 'gr_old', 'at', 1).exec();
    const { created, view } = await svc.upsert({ id: 'reborn', graph: 'release_check', every_sec: 3600, agent_id: 'sofiia', input });
    expect(created).toBe(true);
    expect(view.state).toEqual({ last_run_id: null, last_fired_at: null, last_skip_at: null, fired: 0, skipped: 0 });
    expect(await svc.ticks('reborn', 10)).toEqual([]);
    expect(await env.redis.exists(k.scheduleRuns('reborn'))).toBe(0);
    await svc.remove('reborn');
  });

  it('a create that meets the same id created meanwhile replaces it (keeping its creation time) instead of wiping it', async () => {
    const first = validateSchedule({ id: 'twice', graph: 'release_check', every_sec: 3600, agent_id: 'sofiia', input }, graphs, 'api', new Date(Date.now() - 60_000));
    let raced = false;
    const racingStore = hookBefore(store, 'put', async () => {
      if (raced) return;
      raced = true;
      await store.put(first, 'create');
      await store.settle('twice', { tick: '1', token: 't', runId: 'gr_first', nowMs: 1, createdMs: 1, keepMs: 3_600_000, createdAt: first.created_at });
    });
    const racing = new ScheduleService({ store: racingStore, queue, submit: env.submit, graphs, log: env.log });
    const { created, view } = await racing.upsert({ id: 'twice', graph: 'release_check', every_sec: 60, agent_id: 'sofiia', input });
    expect(created).toBe(false);
    expect(view).toMatchObject({ every_sec: 60, created_at: first.created_at, state: { fired: 1, last_run_id: 'gr_first' } });
    await svc.remove('twice');
  });

  it('a disabled schedule has no job scheduler and no next fire time', async () => {
    const { view: v } = await svc.upsert({ id: 'off', graph: 'release_check', every_sec: 5, agent_id: 'sofiia', input, enabled: false });
    expect(v.next_fire_at).toBeNull();
    expect(await queue.getJobScheduler('off')).toBeUndefined();
    await svc.remove('off');
  });

  it('reconciles config schedules: adds, updates, removes, and never touches API schedules', async () => {
    await svc.upsert({ id: 'mine', graph: 'release_check', every_sec: 3600, agent_id: 'sofiia', input });
    const first = await svc.reconcile([cfg('a'), cfg('b')]);
    expect(first).toEqual({ added: ['a', 'b'], updated: [], removed: [], unchanged: [], taken_over: [] });
    const b0 = await store.get('b');

    const second = await svc.reconcile([cfg('a'), cfg('b', { cron: '30 3 * * *' }), cfg('c', { every_sec: 60, cron: undefined })]);
    expect(second).toEqual({ added: ['c'], updated: ['b'], removed: [], unchanged: ['a'], taken_over: [] });
    expect((await queue.getJobScheduler('b'))?.pattern).toBe('30 3 * * *');
    expect((await store.get('b'))?.created_at).toBe(b0?.created_at);

    await expect(svc.remove('a')).rejects.toMatchObject({ status: 409, code: 'schedule_from_config' });
    await expect(svc.upsert({ id: 'a', graph: 'release_check', every_sec: 5, agent_id: 'sofiia', input })).rejects.toMatchObject({ status: 409, code: 'schedule_from_config' });
    const third = await svc.reconcile([cfg('c', { every_sec: 60, cron: undefined })]);
    expect(third).toEqual({ added: [], updated: [], removed: ['a', 'b'], unchanged: ['c'], taken_over: [] });
    expect(await queue.getJobScheduler('a')).toBeUndefined();
    expect((await listAll()).map((s) => [s.id, s.source])).toEqual([['c', 'config'], ['mine', 'api']]);
    await svc.reconcile([]);
    await svc.remove('mine');
    expect(await listAll()).toEqual([]);
  });

  it('a config schedule takes over an API schedule of its id, says so at warn, and owns it from then on', async () => {
    const { view: mine } = await svc.upsert({ id: 'shared', graph: 'release_check', every_sec: 3600, agent_id: 'sofiia', input, overlap: 'allow' });
    expect((await svc.trigger('shared')).outcome).toBe('fired');
    const sum = await svc.reconcile([cfg('shared')]);
    expect(sum).toEqual({ added: [], updated: [], removed: [], unchanged: [], taken_over: ['shared'] });
    await until('the takeover logged', async () => env.lines.find((l) => l.includes('schedule_taken_over')));
    expect(env.lines.filter((l) => l.includes('schedule_taken_over'))).toEqual([expect.stringMatching(/\[WARN\] schedule_taken_over schedule=shared previous_source=api source=config graph=release_check/)]);
    expect(env.lines.some((l) => /schedules_reconciled added=0 updated=0 removed=0 unchanged=0 taken_over=1/.test(l))).toBe(true);
    // the config's definition and scheduler; the history of the id is kept, as for a POST of the same id
    const s = await svc.get('shared');
    expect(s).toMatchObject({ source: 'config', cron: '0 2 * * *', overlap: 'skip', created_at: mine.created_at });
    expect(s.every_sec).toBeUndefined();
    expect((await queue.getJobScheduler('shared'))?.pattern).toBe('0 2 * * *');
    expect((await store.state('shared')).fired).toBe(1);
    // a config schedule from now on: not the API's to change, and gone when the config drops it
    await expect(svc.remove('shared')).rejects.toMatchObject({ status: 409, code: 'schedule_from_config' });
    expect((await svc.reconcile([cfg('shared')])).unchanged).toEqual(['shared']);
    expect((await svc.reconcile([])).removed).toEqual(['shared']);
    expect(await queue.getJobScheduler('shared')).toBeUndefined();
  });

  it('re-creates a lost job scheduler for an enabled schedule', async () => {
    await svc.upsert({ id: 'lost', graph: 'release_check', every_sec: 3600, agent_id: 'sofiia', input });
    await queue.removeJobScheduler('lost');
    expect(await svc.ensureSchedulers()).toBe(1);
    expect((await queue.getJobScheduler('lost'))?.every).toBe(3_600_000);
    expect(await svc.ensureSchedulers()).toBe(0);
    await svc.remove('lost');
  });

  it('watchSchedulers puts back a scheduler removed by hand (bull-board), without a restart', async () => {
    await svc.upsert({ id: 'watched', graph: 'release_check', every_sec: 3600, agent_id: 'sofiia', input });
    const stop = svc.watchSchedulers(20);
    try {
      await queue.removeJobScheduler('watched');
      expect((await until('the scheduler to be back', () => queue.getJobScheduler('watched')))?.every).toBe(3_600_000);
      expect(env.lines.join('\n')).toMatch(/schedules_repaired count=1/);
    } finally {
      stop();
      await svc.remove('watched');
    }
  });

  it('ticks from the job scheduler start one run per fire time, stamped with it; an orphan scheduler is removed', async () => {
    const worker = new Worker(QUEUES.schedules, createTickProcessor({
      store, submit: env.submit, graphs, log: env.log, removeScheduler: (id) => queue.removeJobScheduler(id),
    }), { connection: env.bull, prefix: bullPrefix(env.prefix), concurrency: 2 });
    env.closers.push(() => worker.close());
    await svc.upsert({ id: 'fast', graph: 'release_check', every_sec: 1, agent_id: 'sofiia', input, overlap: 'allow' });
    const runs = await until('3 scheduled runs', async () => {
      const r = await store.runs('fast', 100);
      return r.length >= 3 ? r : null;
    });
    const stamps = runs.map((r) => r.trigger?.scheduled_at);
    expect(new Set(stamps).size).toBe(runs.length);
    for (const r of runs) expect(r.trigger).toMatchObject({ type: 'schedule', schedule_id: 'fast' });
    // fire times are BullMQ's own, every_sec apart
    const ms = stamps.map((t) => Date.parse(t!)).sort((x, y) => x - y);
    for (let i = 1; i < ms.length; i++) expect((ms[i]! - ms[i - 1]!) % 1000).toBe(0);
    // the definition vanishes behind the scheduler's back: the next tick removes the scheduler
    await store.remove('fast');
    await until('orphan scheduler removed', async () => (await queue.getJobScheduler('fast')) === undefined);
  });
});
