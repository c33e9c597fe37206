import { AppError, type RunRecord } from '@sup/contracts';
import type { GraphDefinition } from '@sup/graphs';
import type { Logger } from '@sup/logging';
import type { SubmitDeps } from '@sup/queue';
import { fireTimes } from './cron.js';
import { fireSchedule, type FireResult } from './fire.js';
import { syncScheduler, type ScheduleQueue } from './scheduler.js';
import { configDigest, sameDefinition, SCHEDULE_ID_RE, validateSchedule, type Overlap, type Schedule } from './schema.js';
import type { ScheduleState, ScheduleStore, TickEntry } from './store.js';

/** How often each API process checks every enabled schedule still has its BullMQ scheduler. */
export const SCHEDULER_CHECK_MS = 60_000;

export interface ScheduleServiceDeps {
  store: ScheduleStore;
  queue: ScheduleQueue;
  submit: SubmitDeps;
  graphs: Record<string, GraphDefinition>;
  log: Logger;
}

/**
 * `paused`: queue `schedules` is paused (bull-board, /admin/queues): no schedule fires, and
 * next_fire_at stays where it was, in the past once it passed, until the queue is resumed.
 */
export type ScheduleView = Schedule & { next_fire_at: string | null; next_fire_times: string[]; paused: boolean; state: ScheduleState };

/** `taken_over`: schedules created through the API whose id the configuration now declares. */
export interface ReconcileSummary { added: string[]; updated: string[]; removed: string[]; unchanged: string[]; taken_over: string[] }

const NEXT_TIMES = 3;

/**
 * Schedules as the API and the start-up reconciliation see them. The definition is written before
 * the BullMQ scheduler and removed after it, so a tick never finds a scheduler without a definition
 * except a stale one, which the tick processor removes.
 */
export class ScheduleService {
  constructor(private readonly d: ScheduleServiceDeps) {}

  /**
   * POST /v1/schedules: creates the schedule, or replaces the one with the same id (its counters,
   * run history and creation time are kept). Config schedules are owned by the configuration.
   */
  async upsert(body: unknown): Promise<{ created: boolean; view: ScheduleView }> {
    const s = validateSchedule(body, this.d.graphs, 'api');
    let existing: Schedule | null;
    let next: Schedule;
    do {
      existing = await this.d.store.get(s.id);
      if (existing?.source === 'config') {
        throw new AppError(409, 'schedule_from_config', `schedule ${s.id} comes from the schedules configuration (SCHEDULES_FILE / SCHEDULES); change it there`);
      }
      next = existing ? { ...s, created_at: existing.created_at } : s;
      // a create that finds the id created meanwhile (another request, the config) looks again
    } while (!(await this.d.store.put(next, existing ? 'replace' : 'create')));
    await syncScheduler(this.d.queue, next);
    this.d.log.info(existing ? 'schedule_replaced' : 'schedule_created', {
      schedule: s.id, graph: s.graph, source: s.source, ...(s.cron ? { cron: s.cron } : { every_sec: s.every_sec }), enabled: s.enabled,
    });
    return { created: !existing, view: await this.view(next) };
  }

  async get(id: string): Promise<Schedule> {
    const s = SCHEDULE_ID_RE.test(id) ? await this.d.store.get(id) : null;
    if (!s) throw new AppError(404, 'schedule_not_found', `no schedule ${JSON.stringify(id.slice(0, 64))}`);
    return s;
  }

  /** `paused`: whether queue `schedules` is paused, when the caller read it already (a page of views). */
  async view(s: Schedule, paused?: boolean): Promise<ScheduleView> {
    const [state, nextMs, queuePaused] = await Promise.all([
      this.d.store.state(s.id), this.d.queue.getJobScheduler(s.id).then((j) => j?.next), paused ?? this.d.queue.isPaused(),
    ]);
    const first = s.enabled && typeof nextMs === 'number' ? nextMs : null;
    return {
      ...s,
      next_fire_at: first === null ? null : new Date(first).toISOString(),
      next_fire_times: first === null ? [] : fireTimes(s, first, NEXT_TIMES).map((ms) => new Date(ms).toISOString()),
      paused: queuePaused,
      state,
    };
  }

  /** GET /v1/schedules: a page by id (each schedule's state and next fire time read for it alone). */
  async list(page: { after?: string; limit: number }): Promise<{ schedules: ScheduleView[]; next: string | null }> {
    const [{ schedules, next }, paused] = await Promise.all([this.d.store.page(page.after, page.limit), this.d.queue.isPaused()]);
    return { schedules: await Promise.all(schedules.map((s) => this.view(s, paused))), next };
  }

  async remove(id: string, opts: { fromConfig?: boolean } = {}): Promise<Schedule> {
    const s = await this.get(id);
    if (s.source === 'config' && !opts.fromConfig) {
      throw new AppError(409, 'schedule_from_config', `schedule ${id} comes from the schedules configuration (SCHEDULES_FILE / SCHEDULES); remove it there`);
    }
    await this.d.queue.removeJobScheduler(id);
    await this.d.store.remove(id);
    this.d.log.info('schedule_deleted', { schedule: id, source: s.source });
    return s;
  }

  /** The runs the schedule started, newest first (those not yet expired). */
  runs(id: string, limit: number): Promise<RunRecord[]> {
    return this.d.store.runs(id, limit);
  }

  counters(): Promise<Array<{ id: string; fired: number; skipped: number }>> {
    return this.d.store.counters();
  }

  /** The latest tick outcomes (fired, skipped), newest first. */
  ticks(id: string, limit: number): Promise<TickEntry[]> {
    return this.d.store.ticks(id, limit);
  }

  /** Run now (the schedule's overlap policy applies unless overridden). */
  async trigger(id: string, overlap?: Overlap): Promise<FireResult> {
    await this.get(id);
    const now = Date.now();
    return fireSchedule(this.d, id, { key: `manual:${now}` }, { manual: true, ...(overlap ? { overlap } : {}) });
  }

  /**
   * Makes the config-sourced schedules equal `desired`: adds, updates (definition changed) and
   * removes config schedules that are no longer listed. A schedule created through the API is left
   * alone unless the configuration declares its id: then the configuration — the operator's declared
   * intent — takes it over (logged at warn) and owns it from then on, removal included.
   */
  async reconcile(desired: Schedule[]): Promise<ReconcileSummary> {
    const sum: ReconcileSummary = { added: [], updated: [], removed: [], unchanged: [], taken_over: [] };
    // first, so that a process holding the previous configuration stops restoring it (keeper.ts)
    await this.d.store.setConfigDigest(configDigest(desired));
    const current = new Map((await this.d.store.list()).map((s) => [s.id, s]));
    for (const want of desired) sum[await this.applyConfigured(want, current.get(want.id) ?? null)].push(want.id);
    const wanted = new Set(desired.map((s) => s.id));
    for (const s of current.values()) {
      if (s.source !== 'config' || wanted.has(s.id)) continue;
      await this.remove(s.id, { fromConfig: true });
      sum.removed.push(s.id);
    }
    this.d.log.info('schedules_reconciled', {
      added: sum.added.length, updated: sum.updated.length, removed: sum.removed.length, unchanged: sum.unchanged.length, taken_over: sum.taken_over.length,
    });
    return sum;
  }

  /** One configured schedule. A create that finds the id created meanwhile (a POST, another API process) looks again. */
  private async applyConfigured(want: Schedule, have: Schedule | null): Promise<Exclude<keyof ReconcileSummary, 'removed'>> {
    for (;;) {
      if (have && have.source === 'config' && sameDefinition(have, want)) {
        await syncScheduler(this.d.queue, have);
        return 'unchanged';
      }
      // like a POST of the same id: the definition is replaced, counters and run history are kept
      const s: Schedule = have ? { ...want, created_at: have.created_at } : want;
      if (await this.d.store.put(s, have ? 'replace' : 'create')) {
        await syncScheduler(this.d.queue, s);
        if (have?.source === 'api') {
          this.d.log.warn('schedule_taken_over', { schedule: s.id, previous_source: 'api', source: 'config', graph: s.graph });
          return 'taken_over';
        }
        return have ? 'updated' : 'added';
      }
      have = await this.d.store.get(want.id);
    }
  }

  /**
   * At API start-up: reconcile the configured schedules (null = none configured, leave them) and
   * repair schedulers. Resolves after the first attempt; if Redis is not reachable yet it tries again
   * every `retryMs` in the background rather than keeping the API down.
   */
  async startup(configured: Schedule[] | null, retryMs = 5_000, attempt = 1): Promise<void> {
    try {
      if (configured) await this.reconcile(configured);
      await this.ensureSchedulers();
    } catch (err) {
      this.d.log.error('schedules_sync_failed', { error: (err as Error).message, attempt, retry_in_ms: retryMs });
      setTimeout(() => void this.startup(configured, retryMs, attempt + 1), retryMs).unref();
    }
  }

  /**
   * Every `everyMs`, puts back the BullMQ scheduler of any enabled schedule that lost it: a scheduler
   * removed in bull-board, or an obliterated `schedules` queue, silently stopped a schedule that
   * still showed as enabled until the next API restart. Returns the stop function.
   */
  watchSchedulers(everyMs = SCHEDULER_CHECK_MS): () => void {
    const timer = setInterval(() => {
      this.ensureSchedulers().catch((err: Error) => this.d.log.warn('schedules_check_failed', { error: err.message }));
    }, everyMs);
    timer.unref();
    return () => clearInterval(timer);
  }

  /** Re-creates any BullMQ scheduler missing for an enabled schedule (e.g. after a Redis restore). */
  async ensureSchedulers(): Promise<number> {
    let repaired = 0;
    for (const s of await this.d.store.list()) {
      if ((await syncScheduler(this.d.queue, s)) === 'upserted' && s.enabled) repaired++;
    }
    if (repaired > 0) this.d.log.warn('schedules_repaired', { count: repaired });
    return repaired;
  }
}
