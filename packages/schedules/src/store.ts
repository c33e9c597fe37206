import { readFileSync } from 'node:fs';
import type { RunRecord } from '@sup/contracts';
import { createKeys, parseRecord, type Keys, type RedisClient } from '@sup/run-store';
import type { Schedule } from './schema.js';

type ScriptName = 'claim' | 'settle' | 'put';
// read relative to this module, so it works from src (tests) and from dist (build copies lua/)
const script = (name: ScriptName, numberOfKeys: number) =>
  ({ numberOfKeys, lua: readFileSync(new URL(`./lua/${name}.lua`, import.meta.url), 'utf8') });
const SCRIPTS: Record<ScriptName, { numberOfKeys: number; lua: string }> = {
  claim: script('claim', 3),
  settle: script('settle', 4),
  put: script('put', 5),
};
const commandName = (name: ScriptName) => `schedules_${name}`;

export interface ScheduleState {
  last_run_id: string | null;
  last_fired_at: string | null;
  last_skip_at: string | null;
  fired: number;
  skipped: number;
}

export type ClaimResult =
  | { kind: 'gone' }
  | { kind: 'ok' }
  | { kind: 'busy' }
  | { kind: 'stale' }
  | { kind: 'done'; runId: string }
  | { kind: 'skip'; runId: string };

export interface TickEntry {
  at: string;
  tick: string;
  outcome: 'fired' | 'skipped';
  run_id: string;
}

const iso = (ms: string | undefined | null) => (ms ? new Date(Number(ms)).toISOString() : null);

/**
 * Schedules in Redis: `schedule:<id>` (the definition, JSON), `schedule:<id>:state` (tick state and
 * counters), `schedule:<id>:runs` (the runs it started), `schedule:<id>:ticks` (fired/skipped log)
 * the `schedules` set and `schedules-config` (the digest of the configuration reconciled last) —
 * names from run-store's keys.ts.
 */
export class ScheduleStore {
  readonly keys: Keys;

  constructor(private readonly redis: RedisClient, prefix: string) {
    this.keys = createKeys(prefix);
    for (const name of Object.keys(SCRIPTS) as ScriptName[]) {
      if (typeof (redis as unknown as Record<string, unknown>)[commandName(name)] !== 'function') {
        redis.defineCommand(commandName(name), SCRIPTS[name]);
      }
    }
  }

  private run(name: ScriptName, keys: string[], args: Array<string | number>): Promise<unknown> {
    const fn = (this.redis as unknown as Record<string, (...a: Array<string | number>) => Promise<unknown>>)[commandName(name)]!;
    return fn.call(this.redis, ...keys, ...args);
  }

  /**
   * Writes the definition; `create` only if there is none (false when one was created meanwhile).
   * A schedule that was not there starts without state, runs or ticks, whatever an older one left.
   */
  async put(s: Schedule, mode: 'create' | 'replace'): Promise<boolean> {
    const k = this.keys;
    const written = await this.run('put', [k.schedule(s.id), k.scheduleState(s.id), k.scheduleRuns(s.id), k.scheduleTicks(s.id), k.schedules], [
      JSON.stringify(s), s.id, mode,
    ]);
    return written === 1;
  }

  /**
   * Which schedules configuration was reconciled last (configDigest), so that an API process can tell
   * data loss (gone) from another process holding another configuration (a rolling deploy).
   */
  async setConfigDigest(digest: string): Promise<void> {
    await this.redis.set(this.keys.schedulesConfig, digest);
  }

  /** The configuration digest and the definitions of `ids`, in one round trip. */
  async configState(ids: string[]): Promise<{ digest: string | null; defs: Array<Schedule | null> }> {
    const p = this.redis.pipeline().get(this.keys.schedulesConfig);
    if (ids.length > 0) p.mget(ids.map((id) => this.keys.schedule(id)));
    const res = (await p.exec()) ?? [];
    for (const [err] of res) if (err) throw err;
    const raws = (res[1]?.[1] as Array<string | null> | undefined) ?? [];
    return { digest: (res[0]?.[1] as string | null) ?? null, defs: ids.map((_, i) => (raws[i] ? (JSON.parse(raws[i]) as Schedule) : null)) };
  }

  async get(id: string): Promise<Schedule | null> {
    const raw = await this.redis.get(this.keys.schedule(id));
    return raw === null ? null : (JSON.parse(raw) as Schedule);
  }

  /** Every schedule, by id; ids whose definition is gone are dropped from the set on the way. */
  async list(): Promise<Schedule[]> {
    return this.read((await this.redis.smembers(this.keys.schedules)).sort());
  }

  /**
   * At most `limit` schedules with ids after `after`, by id, and the id to go on from (null when
   * none follow). A page may hold fewer when definitions vanished meanwhile; `next` still goes on.
   */
  async page(after: string | undefined, limit: number): Promise<{ schedules: Schedule[]; next: string | null }> {
    const all = (await this.redis.smembers(this.keys.schedules)).sort();
    const from = after === undefined ? 0 : all.findIndex((id) => id > after);
    const ids = from < 0 ? [] : all.slice(from, from + limit);
    const more = from >= 0 && from + limit < all.length;
    return { schedules: await this.read(ids), next: more ? ids[ids.length - 1]! : null };
  }

  private async read(ids: string[]): Promise<Schedule[]> {
    if (ids.length === 0) return [];
    const raws = await this.redis.mget(ids.map((id) => this.keys.schedule(id)));
    const gone = ids.filter((_, i) => raws[i] === null);
    if (gone.length > 0) await this.redis.srem(this.keys.schedules, ...gone);
    return raws.flatMap((raw) => (raw === null ? [] : [JSON.parse(raw) as Schedule]));
  }

  async remove(id: string): Promise<boolean> {
    const k = this.keys;
    const res = await this.redis.multi()
      .del(k.schedule(id)).del(k.scheduleState(id), k.scheduleRuns(id), k.scheduleTicks(id)).srem(k.schedules, id)
      .exec();
    return res?.[0]?.[1] === 1;
  }

  async state(id: string): Promise<ScheduleState> {
    const h = await this.redis.hgetall(this.keys.scheduleState(id));
    return {
      last_run_id: h.last_run_id ?? null,
      last_fired_at: iso(h.last_fired_at),
      last_skip_at: iso(h.last_skip_at),
      fired: Number(h.fired ?? 0),
      skipped: Number(h.skipped ?? 0),
    };
  }

  /** `createdAt` is the definition's the tick read: a schedule deleted (or re-created) since is `gone`. */
  async claim(id: string, c: { tick: string; token: string; skip: boolean; nowMs: number; claimMs: number; createdAt: string }): Promise<ClaimResult> {
    const k = this.keys;
    const reply = (await this.run('claim', [k.scheduleState(id), k.scheduleTicks(id), k.schedule(id)], [
      c.tick, c.token, c.skip ? '1' : '0', c.nowMs, c.claimMs, k.run(''), c.createdAt,
    ])) as string[];
    const [kind, runId] = reply;
    if (kind === 'ok' || kind === 'busy' || kind === 'gone' || kind === 'stale') return { kind };
    if ((kind === 'done' || kind === 'skip') && runId) return { kind, runId };
    throw new Error(`schedules claim.lua: unexpected reply ${JSON.stringify(reply)}`);
  }

  /**
   * After submitRun: records the run unless an earlier delivery of the tick did. `runId` null releases
   * the claim. False when the schedule was deleted (or re-created) since the claim: nothing written.
   */
  async settle(id: string, s: { tick: string; token: string; runId: string | null; nowMs: number; createdMs: number; keepMs: number; createdAt: string }): Promise<boolean> {
    const k = this.keys;
    const res = await this.run('settle', [k.scheduleState(id), k.scheduleTicks(id), k.scheduleRuns(id), k.schedule(id)], [
      s.tick, s.token, s.runId ?? '', s.nowMs, s.createdMs, s.keepMs, s.createdAt,
    ]);
    return res === 1;
  }

  /** Fired and skipped ticks of every schedule (cluster-wide: they live in Redis), for /metrics. */
  async counters(): Promise<Array<{ id: string; fired: number; skipped: number }>> {
    const ids = (await this.redis.smembers(this.keys.schedules)).sort();
    if (ids.length === 0) return [];
    const p = this.redis.pipeline();
    for (const id of ids) p.hmget(this.keys.scheduleState(id), 'fired', 'skipped');
    const res = (await p.exec()) ?? [];
    return ids.map((id, i) => {
      const [fired, skipped] = (res[i]?.[1] as Array<string | null> | undefined) ?? [];
      return { id, fired: Number(fired ?? 0), skipped: Number(skipped ?? 0) };
    });
  }

  /** The runs this schedule started, newest first; expired ones are skipped. */
  async runs(id: string, limit: number): Promise<RunRecord[]> {
    const ids = await this.redis.zrevrange(this.keys.scheduleRuns(id), 0, limit - 1);
    if (ids.length === 0) return [];
    const raws = await this.redis.mget(ids.map((r) => this.keys.run(r)));
    return raws.flatMap((raw, i) => {
      if (raw === null) return [];
      try {
        return [parseRecord(raw, ids[i]!)];
      } catch {
        return [];
      }
    });
  }

  /** The latest tick outcomes, newest first. */
  async ticks(id: string, limit: number): Promise<TickEntry[]> {
    const entries = await this.redis.xrevrange(this.keys.scheduleTicks(id), '+', '-', 'COUNT', limit);
    return entries.map(([, fields]) => {
      const f: Record<string, string> = {};
      for (let i = 0; i + 1 < fields.length; i += 2) f[fields[i]!] = fields[i + 1]!;
      return { at: iso(f.at) ?? '', tick: f.tick ?? '', outcome: f.outcome as TickEntry['outcome'], run_id: f.run_id ?? '' };
    });
  }
}
