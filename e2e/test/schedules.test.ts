import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ROOT, startApp, until } from '../src/procs.js';
import { System } from '../src/system.js';

interface Run { run_id: string; status: string; created_at: string; trigger?: { type: string; schedule_id?: string; scheduled_at?: string } }

/**
 * Every run record in the deployment that names the schedule, straight from Redis: whatever process
 * created it, a second run for one tick would show up here.
 */
async function runsOf(sys: System, scheduleId: string): Promise<Run[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await sys.redis.scan(cursor, 'MATCH', `${sys.prefix}run:gr_*`, 'COUNT', 1000);
    cursor = next;
    keys.push(...batch.filter((k) => !k.endsWith(':events')));
  } while (cursor !== '0');
  if (keys.length === 0) return [];
  const raws = await Promise.all(keys.map((k) => sys.redis.get(k)));
  return raws.flatMap((raw) => (raw ? [JSON.parse(raw) as Run] : [])).filter((r) => r.trigger?.schedule_id === scheduleId);
}

/** One run per fire time: scheduled_at is unique, and fire times are whole intervals apart. */
function expectOneRunPerTick(runs: Run[], everySec: number): number[] {
  const at = runs.map((r) => Date.parse(r.trigger!.scheduled_at!)).sort((a, b) => a - b);
  expect(at.every(Number.isFinite)).toBe(true);
  expect(new Set(at).size).toBe(runs.length);
  for (let i = 1; i < at.length; i++) expect((at[i]! - at[i - 1]!) % (everySec * 1000)).toBe(0);
  return at;
}

const input = { service: 'billing', version: '1.4.2' };

describe('schedules on BullMQ job schedulers (2 APIs, 2 workers, gateway-sim, real Redis)', () => {
  const sys = new System({ apis: 2, workers: 2, simEnv: { SIM_JOB_DURATION_MS: '200' }, workerEnv: { HOUSEKEEPING_EVERY_SEC: '1' } });
  beforeAll(() => sys.start());
  afterAll(() => sys.stop());

  it('housekeeping runs on its own queue, on some worker each interval, and is not a schedule', async () => {
    const passes = () => sys.workers.flatMap((w) => w.lines).filter((l) => /\bhousekeeping removed_jobs=\d+ removed_index_entries=\d+/.test(l)).length;
    // each worker's start-up upsert may emit one at once; more than that come from the interval
    await until('four housekeeping passes', async () => passes() >= 4, 15_000);
    // BullMQ keeps the scheduler in <bull prefix>:housekeeping:repeat
    expect(await sys.redis.zscore(`${sys.bullPrefix}:housekeeping:repeat`, 'housekeeping')).not.toBeNull();
    expect(await sys.redis.zscore(`${sys.bullPrefix}:schedules:repeat`, '_housekeeping')).toBeNull();
    const listed = await sys.api('GET', '/v1/schedules');
    expect(listed.status).toBe(200);
    expect(listed.body.schedules.map((s: { id: string }) => s.id)).not.toContain('housekeeping');
  });

  it('pausing the schedules queue in bull-board pauses schedule ticks only, not housekeeping', async () => {
    const passes = () => sys.workers.flatMap((w) => w.lines).filter((l) => /\bhousekeeping removed_jobs=/.test(l)).length;
    expect((await sys.api('PUT', '/admin/queues/api/queues/schedules/pause')).status).toBe(200);
    try {
      const before = passes();
      await until('two more housekeeping passes while schedules is paused', async () => passes() >= before + 2, 15_000);
    } finally {
      expect((await sys.api('PUT', '/admin/queues/api/queues/schedules/resume')).status).toBe(200);
    }
  });

  it('a schedule every 2 s starts runs, exactly one per tick however many processes run', async () => {
    const created = await sys.api('POST', '/v1/schedules', { id: 'every2', graph: 'release_check', every_sec: 2, agent_id: 'sofiia', input, overlap: 'allow' });
    expect(created.status).toBe(201);
    expect(created.body.next_fire_at).toEqual(expect.any(String));
    // the other API process sees it too, with its next fire times
    const listed = await sys.api('GET', '/v1/schedules', undefined, {}, sys.apiUrls[1]);
    expect(listed.body.schedules.map((s: { id: string }) => s.id)).toContain('every2');

    const runs = await until('3 runs of schedule every2', async () => {
      const r = await runsOf(sys, 'every2');
      return r.length >= 3 ? r : null;
    }, 20_000);
    expectOneRunPerTick(runs, 2);
    for (const r of runs) expect(r.trigger).toMatchObject({ type: 'schedule', schedule_id: 'every2' });
    const done = await sys.waitStatus(runs[0]!.run_id, ['succeeded', 'failed']);
    expect(done.status).toBe('succeeded');

    await sys.api('DELETE', '/v1/schedules/every2', undefined, {}, sys.apiUrls[1]).then((r) => expect(r.status).toBe(200));
    // each run was started by one tick in one worker process (a tick in flight at the DELETE may still land)
    const fired = () => sys.workers.flatMap((w) => w.lines).filter((l) => /schedule_fired schedule=every2 .*created=true/.test(l)).length;
    const all = await until('worker logs to account for every run', async () => {
      const r = await runsOf(sys, 'every2');
      return fired() === r.length ? r : null;
    }, 5_000);
    expectOneRunPerTick(all, 2);
  });

  it('keeps firing after every API and worker process is killed (SIGKILL) and restarted', async () => {
    expect((await sys.api('POST', '/v1/schedules', { id: 'survivor', graph: 'release_check', every_sec: 1, agent_id: 'sofiia', input, overlap: 'allow' })).status).toBe(201);
    await until('2 runs before the kill', async () => (await runsOf(sys, 'survivor')).length >= 2, 15_000);

    await sys.stopAppProcesses('SIGKILL');
    const restartedAt = Date.now();
    await Promise.all([sys.startApi(), sys.startApi(), sys.startWorker(), sys.startWorker()]);

    const after = await until('2 runs fired after the restart', async () => {
      const r = await runsOf(sys, 'survivor');
      return r.filter((x) => Date.parse(x.trigger!.scheduled_at!) > restartedAt).length >= 2 ? r : null;
    }, 20_000);
    expectOneRunPerTick(after, 1);
    const view = await sys.api('GET', '/v1/schedules/survivor', undefined, {}, sys.apiUrls[1]);
    expect(view.body.state.fired).toBeGreaterThanOrEqual(4);
    expect((await sys.api('DELETE', '/v1/schedules/survivor')).status).toBe(200);
  });

  it('overlap: skip with a 10 s orchestrator job records skips instead of piling up runs', async () => {
    await sys.simApi('PATCH', '/_sim/config', { jobDurationMs: 10_000 });
    try {
      const res = await sys.api('POST', '/v1/schedules', { id: 'slow', graph: 'release_check', every_sec: 1, agent_id: 'sofiia', input });
      expect(res.body.overlap).toBe('skip'); // the default for release_check
      const view = await until('3 skipped ticks', async () => {
        const v = (await sys.api('GET', '/v1/schedules/slow')).body;
        return v.state.skipped >= 3 ? v : null;
      }, 20_000);
      const runs = await runsOf(sys, 'slow');
      expect(runs).toHaveLength(1);
      expect(view.state).toMatchObject({ fired: 1, last_run_id: runs[0]!.run_id });
      expect(['queued', 'running', 'waiting']).toContain((await sys.run(runs[0]!.run_id)).status);

      const lines = sys.workers.flatMap((w) => w.lines);
      expect(lines.some((l) => l.includes('schedule_skip schedule=slow') && l.includes(`running=${runs[0]!.run_id}`))).toBe(true);
      const ticks = (await sys.api('GET', '/v1/schedules/slow/ticks')).body.ticks as Array<{ outcome: string }>;
      expect(ticks.filter((t) => t.outcome === 'skipped').length).toBeGreaterThanOrEqual(3);
      const metrics = await fetch(`${sys.apiUrl}/metrics`).then((r) => r.text());
      expect(metrics).toMatch(/sup_schedule_ticks_total\{schedule="slow",outcome="skipped"\} [3-9]/);

      expect((await sys.api('DELETE', '/v1/schedules/slow')).status).toBe(200);
      await sys.api('POST', `/v1/runs/${runs[0]!.run_id}/cancel`, {});
    } finally {
      await sys.simApi('PATCH', '/_sim/config', { jobDurationMs: 200 });
    }
  });
});

describe('schedules from SCHEDULES_FILE, reconciled at API start-up', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sup-schedules-'));
  const file = join(dir, 'schedules.yaml');
  const sys = new System({ apis: 0, workers: 0 });
  beforeAll(() => sys.start());
  afterAll(async () => {
    await sys.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const restartApi = async () => {
    await sys.stopAppProcesses('SIGTERM');
    await sys.startApi({ SCHEDULES_FILE: file });
  };
  const list = async () => {
    const res = await sys.api('GET', '/v1/schedules');
    return Object.fromEntries((res.body.schedules as Array<{ id: string }>).map((s) => [s.id, s])) as Record<string, any>;
  };

  it('the example file loads at boot: a nightly and an hourly release check with next fire times', async () => {
    await sys.startApi({ SCHEDULES_FILE: `${ROOT}config/schedules.example.yaml` });
    const s = await list();
    expect(s['nightly-release-check-billing']).toMatchObject({ graph: 'release_check', cron: '0 2 * * *', source: 'config', overlap: 'skip' });
    expect(s['hourly-release-check-payments']).toMatchObject({ graph: 'release_check', cron: '15 * * * *', source: 'config' });
    expect(new Date(s['hourly-release-check-payments'].next_fire_at).getUTCMinutes()).toBe(15);
    await sys.stopAppProcesses('SIGTERM');
  });

  it('a config schedule appears at boot, changes with the file, and disappears when removed from it', async () => {
    writeFileSync(file, `
schedules:
  - id: nightly
    graph: release_check
    cron: "0 2 * * *"
    agent_id: sofiia
    input: {service: billing, version: "1.0.0"}
  - id: hourly
    graph: release_check
    cron: "0 * * * *"
    agent_id: sofiia
    input: {service: payments, version: "1.0.0"}
`);
    await sys.startApi({ SCHEDULES_FILE: file });
    let s = await list();
    expect(Object.keys(s).sort()).toEqual(['hourly', 'nightly']);
    expect(s.hourly).toMatchObject({ source: 'config', cron: '0 * * * *', input: { version: '1.0.0' } });
    // the example file's two schedules (previous test, same deployment) are no longer configured
    expect(sys.apis[0]!.lines.some((l) => /schedules_reconciled added=2 updated=0 removed=2 unchanged=0/.test(l))).toBe(true);
    // a schedule made through the API is not the file's to remove
    expect((await sys.api('POST', '/v1/schedules', { id: 'adhoc', graph: 'release_check', cron: '0 3 * * *', agent_id: 'sofiia', input })).status).toBe(201);
    expect((await sys.api('DELETE', '/v1/schedules/nightly')).status).toBe(409);

    writeFileSync(file, `
- id: hourly
  graph: release_check
  cron: "30 * * * *"
  agent_id: sofiia
  input: {service: payments, version: "2.0.0"}
- id: frequent
  graph: incident_triage
  every_sec: 600
  agent_id: sofiia
  input: {service: payments}
`);
    await restartApi();
    s = await list();
    expect(Object.keys(s).sort()).toEqual(['adhoc', 'frequent', 'hourly']);
    expect(s.hourly).toMatchObject({ cron: '30 * * * *', input: { version: '2.0.0' } });
    expect(new Date(s.hourly.next_fire_at).getUTCMinutes()).toBe(30);
    expect(s.frequent).toMatchObject({ every_sec: 600, overlap: 'allow', source: 'config' });
    expect((await sys.api('GET', '/v1/schedules/nightly')).status).toBe(404);

    writeFileSync(file, 'schedules: []\n');
    await restartApi();
    s = await list();
    expect(Object.keys(s)).toEqual(['adhoc']);
    // BullMQ holds no scheduler for the removed ones
    const bullKeys = await sys.redis.zrange(`${sys.bullPrefix}:schedules:repeat`, '0', '-1');
    expect(bullKeys).toEqual(['adhoc']);
  });

  it('an API schedule whose id the file declares is taken over at start-up (warn line), then removed with the file', async () => {
    // left by the previous test: 'adhoc', created through the API
    writeFileSync(file, 'schedules:\n  - {id: adhoc, graph: release_check, cron: "45 4 * * *", agent_id: sofiia, input: {service: billing, version: "3.0.0"}}\n');
    await restartApi();
    expect((await list()).adhoc).toMatchObject({ source: 'config', cron: '45 4 * * *' });
    expect(sys.apis[0]!.lines.filter((l) => l.includes('schedule_taken_over'))).toEqual([expect.stringMatching(/\[WARN\] schedule_taken_over schedule=adhoc previous_source=api/)]);
    writeFileSync(file, 'schedules: []\n');
    await restartApi();
    expect(await list()).toEqual({});
  });

  it('a bad schedules file stops the API with one line naming SCHEDULES_FILE and the problem', async () => {
    writeFileSync(file, 'schedules:\n  - {id: broken, graph: release_check, cron: "61 * * * *", agent_id: sofiia, input: {service: a, version: b}}\n');
    const api = startApp('api', { REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', KEY_PREFIX: sys.prefix, PORT: '0', HOST: '127.0.0.1', SCHEDULES_FILE: file }, 'api-bad');
    expect(await api.exited).toBe(1);
    expect(api.lines).toEqual([expect.stringMatching(/^invalid configuration: SCHEDULES_FILE=".*schedules\.yaml": schedules\[0\] \(broken\): cron "61 \* \* \* \*" is invalid: .*0-59/)]);
  });

  it('an empty schedules file stops the API with one line (it is not read as "remove them all")', async () => {
    writeFileSync(file, '\n# nothing here yet\n');
    const api = startApp('api', { REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', KEY_PREFIX: sys.prefix, PORT: '0', HOST: '127.0.0.1', SCHEDULES_FILE: file }, 'api-empty');
    expect(await api.exited).toBe(1);
    expect(api.lines).toEqual([expect.stringMatching(/^invalid configuration: SCHEDULES_FILE=".*schedules\.yaml": no schedules in it .*write schedules: \[\]/)]);
  });
});
