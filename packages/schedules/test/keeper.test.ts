import { EventEmitter } from 'node:events';
import { afterAll, describe, expect, it } from '@jest/globals';
import { graphs } from '@sup/graphs';
import { ConfigScheduleKeeper } from '../src/keeper.js';
import type { Schedule } from '../src/schema.js';
import { ScheduleService } from '../src/service.js';
import { ScheduleStore } from '../src/store.js';
import { configured as cfg, input, serviceEnv, until } from './helpers.js';

const { env, queue, store, svc } = serviceEnv('keeper');
const listAll = async () => (await svc.list({ limit: 1000 })).schedules;
afterAll(() => env.close());

const desired = [cfg('nightly'), cfg('often', { cron: undefined, every_sec: 3600, overlap: 'allow' })];
const keeper = (want: Schedule[] = desired, s = svc) => new ConfigScheduleKeeper({ svc: s, store, queue, log: env.log }, want);

const ids = async () => (await listAll()).map((s) => [s.id, s.source]);
/** The pending tick jobs of each schedule (BullMQ keeps one per scheduler). */
async function pendingTicks(): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const j of await queue.getJobs(['wait', 'delayed', 'prioritized', 'active'])) {
    (out[j.data.schedule_id] ??= []).push(j.id!);
  }
  return out;
}
const logged = (re: RegExp) => until(`a log line ${re}`, async () => env.lines.filter((l) => re.test(l)).length > 0 && env.lines.filter((l) => re.test(l)));

describe('ConfigScheduleKeeper', () => {
  it('leaves an intact configuration alone: no write, no new tick, counters kept', async () => {
    await svc.startup(desired);
    expect((await svc.trigger('often')).outcome).toBe('fired');
    const before = { list: await listAll(), ticks: await pendingTicks(), state: await store.state('often') };
    expect(before.ticks).toEqual({ nightly: [expect.any(String)], often: [expect.any(String)] });
    expect(await keeper().check()).toBe('intact');
    expect(await listAll()).toEqual(before.list);
    expect(await pendingTicks()).toEqual(before.ticks);
    expect(await store.state('often')).toEqual(before.state);
    expect(env.lines.some((l) => l.includes('schedules_restored'))).toBe(false);
  });

  it('puts the configured schedules back after the deployment\'s keys are flushed', async () => {
    await env.flush();
    expect(await listAll()).toEqual([]);
    expect(await keeper().check()).toBe('restored');
    expect(await ids()).toEqual([['nightly', 'config'], ['often', 'config']]);
    expect((await queue.getJobScheduler('nightly'))?.pattern).toBe('0 2 * * *');
    expect((await queue.getJobScheduler('often'))?.every).toBe(3_600_000);
    expect(await logged(/\[WARN\] schedules_restored reason=configuration_gone configured=2/)).toHaveLength(1);
    expect(await keeper().check()).toBe('intact');
  });

  it('restores one lost definition or scheduler, and keeps the intact schedule\'s counters', async () => {
    expect((await svc.trigger('often')).outcome).toBe('fired');
    const ticks = (await pendingTicks()).often;
    await env.redis.del(store.keys.schedule('nightly'));
    expect(await keeper().check()).toBe('restored');
    expect(await ids()).toEqual([['nightly', 'config'], ['often', 'config']]);
    expect((await store.state('often')).fired).toBe(1);
    expect((await pendingTicks()).often).toEqual(ticks);

    await queue.removeJobScheduler('nightly');
    expect(await keeper().check()).toBe('restored');
    expect((await queue.getJobScheduler('nightly'))?.pattern).toBe('0 2 * * *');
    expect(await logged(/schedules_restored reason=scheduler_gone/)).toHaveLength(1);
  });

  it('checks after a Redis reconnect and on its interval', async () => {
    const redis = new EventEmitter();
    const stop = keeper().start(redis, 3_600_000);
    try {
      await env.flush();
      redis.emit('ready');
      await until('the schedules back after ready', async () => (await listAll()).length === 2);
    } finally {
      stop();
    }
    const stopTimer = keeper().start(new EventEmitter(), 50);
    try {
      await env.flush();
      await until('the schedules back on the interval', async () => (await listAll()).length === 2);
    } finally {
      stopTimer();
    }
  });

  it('leaves the schedules to another configuration reconciled since (a rolling deploy), warning once', async () => {
    const newer = [cfg('nightly', { cron: '30 3 * * *' })];
    await svc.reconcile(newer);
    const k = keeper();
    expect(await k.check()).toBe('foreign');
    expect(await k.check()).toBe('foreign');
    expect(await ids()).toEqual([['nightly', 'config']]);
    expect((await svc.get('nightly')).cron).toBe('30 3 * * *');
    expect(await logged(/\[WARN\] schedules_config_differs configured=2/)).toHaveLength(1);
    // the same configuration in another key order is the same configuration
    const reordered = newer.map((s) => ({ ...s, input: { version: input.version, service: input.service } }));
    expect(await keeper(reordered).check()).toBe('intact');
    await svc.reconcile(desired);
  });

  it('several API processes checking at once after a flush restore each schedule once, with one pending tick', async () => {
    await env.flush();
    const processes = [1, 2, 3].map(() => new ScheduleService({ store: new ScheduleStore(env.redis, env.prefix), queue, submit: env.submit, graphs, log: env.log }));
    const outcomes = await Promise.all(processes.map((p) => keeper(desired, p).check()));
    expect(outcomes.every((o) => o === 'restored' || o === 'intact')).toBe(true);
    expect(await ids()).toEqual([['nightly', 'config'], ['often', 'config']]);
    const ticks = await pendingTicks();
    expect(Object.fromEntries(Object.entries(ticks).map(([id, jobs]) => [id, jobs.length]))).toEqual({ nightly: 1, often: 1 });
    expect(await store.state('often')).toMatchObject({ fired: 0, skipped: 0 });
    expect(await Promise.all(processes.map((p) => keeper(desired, p).check()))).toEqual(['intact', 'intact', 'intact']);
  });
});
