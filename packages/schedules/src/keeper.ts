import type { EventEmitter } from 'node:events';
import type { Logger } from '@sup/logging';
import type { ScheduleQueue } from './scheduler.js';
import { configDigest, sameDefinition, type Schedule } from './schema.js';
import type { ScheduleService } from './service.js';
import type { ScheduleStore } from './store.js';

/** One GET + one MGET, and one scheduler read per enabled config schedule, a minute. */
export const CONFIG_CHECK_MS = 60_000;

export interface ConfigKeeperDeps {
  svc: ScheduleService;
  store: ScheduleStore;
  queue: ScheduleQueue;
  log: Logger;
}

/** intact: nothing written; restored: reconciled again; foreign: another configuration is in charge. */
export type ConfigCheck = 'intact' | 'restored' | 'foreign';

/**
 * Keeps the configured schedules in Redis between API starts. Redis can lose them (FLUSHDB, a restart
 * without persistence, a failover to an empty replica), and the start-up reconcile would not run again
 * until the next API restart. `check()` reads what the last reconcile left — the configuration
 * digest, the definitions, their BullMQ schedulers — and reconciles again only when something is
 * missing or differs, so an intact schedule is never re-fired nor its counters reset.
 *
 * The digest tells data loss from a rolling deploy: another API process that started with another
 * configuration has written its own digest, and this one leaves its schedules alone (warning once)
 * instead of putting back what the newer configuration removed. Concurrent checks of several processes
 * are safe: the reconcile creates a missing definition only if still absent (put.lua), and re-upserting
 * a BullMQ scheduler with the same settings keeps its one pending tick.
 */
export class ConfigScheduleKeeper {
  private readonly digest: string;
  private running: Promise<ConfigCheck> | null = null;
  /** The other digest last warned about, and whether the last check failed (each logged once). */
  private warnedForeign: string | null = null;
  private failing = false;

  constructor(private readonly d: ConfigKeeperDeps, private readonly desired: Schedule[]) {
    this.digest = configDigest(desired);
  }

  /** Checks after every reconnect of `redis` (a restarted Redis may come back empty) and every `everyMs`. */
  start(redis: EventEmitter, everyMs = CONFIG_CHECK_MS): () => void {
    const onReady = () => void this.check().catch(() => undefined);
    redis.on('ready', onReady);
    const timer = setInterval(onReady, everyMs).unref();
    return () => {
      clearInterval(timer);
      redis.off('ready', onReady);
    };
  }

  /** One check at a time per process: a call while one runs gets that one's answer. */
  check(): Promise<ConfigCheck> {
    this.running ??= this.run().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async run(): Promise<ConfigCheck> {
    try {
      const out = await this.checkOnce();
      if (this.failing) this.d.log.info('schedules_check_ok', {});
      this.failing = false;
      return out;
    } catch (err) {
      if (!this.failing) this.d.log.warn('schedules_check_failed', { error: (err as Error).message, retry_in_ms: CONFIG_CHECK_MS });
      this.failing = true;
      throw err;
    }
  }

  private async checkOnce(): Promise<ConfigCheck> {
    const { digest, defs } = await this.d.store.configState(this.desired.map((s) => s.id));
    if (digest !== null && digest !== this.digest) {
      if (this.warnedForeign !== digest) {
        this.d.log.warn('schedules_config_differs', { configured: this.desired.length, consequence: 'this process leaves the schedules to the configuration reconciled last' });
      }
      this.warnedForeign = digest;
      return 'foreign';
    }
    this.warnedForeign = null;
    const reason = digest === null ? 'configuration_gone' : (this.differs(defs) ?? (await this.schedulerMissing()));
    if (!reason) return 'intact';
    this.d.log.warn('schedules_restored', { reason, configured: this.desired.length });
    await this.d.svc.reconcile(this.desired);
    return 'restored';
  }

  private differs(defs: Array<Schedule | null>): string | null {
    for (const [i, want] of this.desired.entries()) {
      const have = defs[i];
      if (!have) return 'definition_gone';
      if (have.source !== 'config' || !sameDefinition(have, want)) return 'definition_changed';
    }
    return null;
  }

  private async schedulerMissing(): Promise<string | null> {
    const enabled = this.desired.filter((s) => s.enabled);
    const found = await Promise.all(enabled.map((s) => this.d.queue.getJobScheduler(s.id)));
    return found.some((j) => !j) ? 'scheduler_gone' : null;
  }
}
