import { AppError } from '@sup/contracts';
import type { Logger } from '@sup/logging';
import type { MemoryUse } from '@sup/run-store';

export interface AdmissionOptions {
  /** Refuse new runs from this share of Redis' maxmemory on (percent); 0 = never. */
  limitPct: number;
  /** memoryUse() of the run store's Redis. */
  read(): Promise<MemoryUse | null>;
  log: Logger;
  now?(): number;
  /** How long one reading is used (default 1 s): at most one INFO per interval, however many creates. */
  maxAgeMs?: number;
}

/** Seconds a refused client is asked to wait: memory frees as finished runs expire, not at once. */
export const OVER_CAPACITY_RETRY_SEC = 30;

/**
 * Load shedding before Redis is full. Under `noeviction` a full Redis refuses every write — the
 * commits of runs in flight too, which then wait in 5 s parks until memory frees. New runs are
 * refused earlier, from `limitPct` of `maxmemory` on, so that the room left goes to the runs already
 * accepted. Only creates go through here; cancels, reads and the workers' own writes do not.
 */
export class Admission {
  private last: { at: number; use: MemoryUse | null } | undefined;
  private pending: Promise<MemoryUse | null> | undefined;
  private refusing = false;
  private lastPct = 0;
  /** Creates this process refused (sup_api_creates_refused_total). */
  refused = 0;
  private readonly now: () => number;

  constructor(private readonly o: AdmissionOptions) {
    this.now = o.now ?? Date.now;
  }

  /** Throws 503 `over_capacity` while Redis is at or above the limit. A failed reading admits. */
  async check(): Promise<void> {
    if (this.o.limitPct <= 0) return;
    let use: MemoryUse | null;
    try {
      use = await this.reading();
    } catch {
      return; // Redis unreachable: the create itself fails with its own answer
    }
    const pct = use ? (use.used / use.max) * 100 : 0;
    const over = use !== null && pct >= this.o.limitPct;
    if (over !== this.refusing) {
      this.refusing = over;
      const fields = { used_memory: use?.used ?? 0, maxmemory: use?.max ?? 0, limit_pct: this.o.limitPct };
      if (over) this.o.log.warn('admission_refusing', fields);
      else this.o.log.info('admission_accepting', fields);
    }
    this.lastPct = pct;
    if (!over) return;
    this.refused++;
    throw new AppError(503, 'over_capacity',
      `Redis is at ${Math.floor(pct)} % of its maxmemory (ADMISSION_MEMORY_PCT=${this.o.limitPct}): new runs are refused so that the runs in flight can finish; retry later`,
      { used_memory: use!.used, maxmemory: use!.max, limit_pct: this.o.limitPct });
  }

  /** A /healthz warning while creates are being refused; null otherwise. */
  warning(): string | null {
    return this.refusing ? `new runs refused (503 over_capacity): Redis at ${Math.floor(this.lastPct)} % of its maxmemory, ADMISSION_MEMORY_PCT=${this.o.limitPct}` : null;
  }

  private reading(): Promise<MemoryUse | null> {
    if (this.last && this.now() - this.last.at < (this.o.maxAgeMs ?? 1_000)) return Promise.resolve(this.last.use);
    // one INFO in flight at a time, shared by every create waiting for it
    this.pending ??= this.o.read()
      .then((use) => ((this.last = { at: this.now(), use }), use))
      .finally(() => (this.pending = undefined));
    return this.pending;
  }
}
