import { randomUUID } from 'node:crypto';
import type { RunRecord } from '@sup/contracts';
import type { GraphDefinition } from '@sup/graphs';
import type { Logger } from '@sup/logging';
import { submitRun, type SubmitDeps } from '@sup/queue';
import type { Overlap } from './schema.js';
import type { ScheduleStore } from './store.js';

export interface FireDeps {
  store: ScheduleStore;
  submit: SubmitDeps;
  graphs: Record<string, GraphDefinition>;
  log: Logger;
  now?: () => number;
}

export interface Tick {
  /** Unique per fire time: the due time in ms for scheduled ticks, `manual:<ms>` for a trigger. */
  key: string;
  /** The due time of a scheduled tick. */
  scheduledAt?: number;
}

export type FireResult =
  | { outcome: 'fired'; run: RunRecord; created: boolean }
  | { outcome: 'duplicate'; run_id: string }
  | { outcome: 'skipped'; running_run_id: string }
  | { outcome: 'busy' }
  /** A fire time older than the schedule's newest, not in its history (a finished tick retried by hand): no run. */
  | { outcome: 'stale' }
  | { outcome: 'missing' }
  | { outcome: 'disabled' }
  | { outcome: 'invalid'; message: string };

/**
 * The idempotency key of a schedule's run for one fire time. It has spaces, which the API refuses in
 * an Idempotency-Key: a client cannot plant the run a tick would adopt. (Until 2026-11-29 it was
 * `sched:<id>:<tick>`, and the fire times are public in GET /v1/schedules.)
 */
export const scheduleKey = (id: string, tick: string): string => `sched ${id} ${tick}`;

// long enough for one submit (two Redis round trips), short enough that a crashed claimer's
// schedule is free again by the time BullMQ re-delivers its tick
const CLAIM_MS = 15_000;

/**
 * One tick of a schedule: load its current definition, apply the overlap policy, start the run.
 * The run's idempotency key (scheduleKey) makes a re-delivered tick return the run it already
 * started; the claim (claim.lua) keeps two ticks of one schedule from racing past the overlap check.
 */
export async function fireSchedule(d: FireDeps, id: string, tick: Tick, opts: { manual?: boolean; overlap?: Overlap } = {}): Promise<FireResult> {
  const now = d.now ?? Date.now;
  const s = await d.store.get(id);
  if (!s) return { outcome: 'missing' };
  if (!s.enabled && !opts.manual) return { outcome: 'disabled' };
  const graph = Object.hasOwn(d.graphs, s.graph) ? d.graphs[s.graph] : undefined;
  // the graph or its schema may have changed since the schedule was stored
  const input = graph?.input.safeParse(s.input);
  if (!graph || !input?.success) {
    const message = graph ? `input no longer matches graph ${s.graph}` : `unknown graph ${s.graph}`;
    d.log.warn('schedule_invalid', { schedule: id, tick: tick.key, reason: message });
    return { outcome: 'invalid', message };
  }

  const token = randomUUID();
  const overlap = opts.overlap ?? s.overlap;
  // the claim and the settle write nothing for a schedule deleted (or re-created) since this read
  const createdAt = s.created_at;
  const claim = await d.store.claim(id, { tick: tick.key, token, skip: overlap === 'skip', nowMs: now(), claimMs: CLAIM_MS, createdAt });
  if (claim.kind === 'gone') return { outcome: 'missing' };
  if (claim.kind === 'busy') return { outcome: 'busy' };
  if (claim.kind === 'stale') {
    d.log.warn('schedule_tick_stale', { schedule: id, tick: tick.key, action: 'no run: older than the schedule\'s last tick and not in its history (a finished tick retried, e.g. in bull-board)' });
    return { outcome: 'stale' };
  }
  if (claim.kind === 'skip') {
    d.log.info('schedule_skip', { schedule: id, tick: tick.key, running: claim.runId, overlap });
    return { outcome: 'skipped', running_run_id: claim.runId };
  }
  if (claim.kind === 'done') return { outcome: 'duplicate', run_id: claim.runId };

  // gives the claim back with no run recorded (best effort: it expires by itself)
  const release = () => d.store.settle(id, { tick: tick.key, token, runId: null, nowMs: now(), createdMs: 0, keepMs: 0, createdAt }).catch(() => undefined);
  let res: { created: boolean; record: RunRecord };
  try {
    res = await submitRun(d.submit, {
      graph: s.graph, agentId: s.agent_id, input: input.data as Record<string, unknown>,
      trigger: { type: 'schedule', schedule_id: id, ...(tick.scheduledAt !== undefined ? { scheduled_at: new Date(tick.scheduledAt).toISOString() } : {}) },
      idempotencyKey: scheduleKey(id, tick.key),
    });
  } catch (err) {
    await release();
    throw err;
  }
  // the key found a run this schedule did not start: it is not this tick's, and is not adopted
  if (!res.created && (res.record.trigger?.schedule_id !== id || res.record.graph !== s.graph)) {
    await release();
    const message = `the run key of tick ${tick.key} names run ${res.record.run_id}, which this schedule did not start`;
    d.log.error('schedule_key_conflict', { schedule: id, tick: tick.key, run: res.record.run_id });
    return { outcome: 'invalid', message };
  }
  const createdMs = Date.parse(res.record.created_at);
  const recorded = await d.store.settle(id, {
    tick: tick.key, token, runId: res.record.run_id, nowMs: now(),
    createdMs: Number.isFinite(createdMs) ? createdMs : now(), keepMs: d.submit.ttlSec * 1000, createdAt,
  });
  d.log.info('schedule_fired', {
    schedule: id, tick: tick.key, run: res.record.run_id, graph: s.graph, created: res.created,
    // deleted while its run was being submitted: the run stays, the schedule's history is gone with it
    ...(recorded ? {} : { schedule_deleted: true }),
  });
  return { outcome: 'fired', run: res.record, created: res.created };
}
