import { DelayedError, isNotConnectionError, type Job, type Worker } from 'bullmq';
import { burstLimited, type Logger } from '@sup/logging';
import { isRedisUnavailable } from '@sup/run-store';

export interface RefusalGuardOptions {
  log: Logger;
  /** A small write (RunStore.probeWrite): resolves once Redis takes writes again. */
  probe(): Promise<unknown>;
  /** How often the probe is tried while refused. */
  probeEveryMs?: number;
  /** While refusals go on, one reminder line this often. */
  remindMs?: number;
  /** `worker_error` lines of one message: the first at once, then one this often (`repeated=`). */
  errorEveryMs?: number;
  now?(): number;
}

export interface RefusalGuard {
  /**
   * Takes over the Worker's 'error' events: a refusal pauses it (below), anything else is logged as
   * `worker_error`, each message at most once per `errorEveryMs` with `repeated=`.
   */
  watch(worker: Worker, queue: string): void;
  /** While Redis refuses this process's writes: why (for /healthz); else null. */
  refusing(): string | null;
  /** The process is stopping: no more probes, nothing is resumed (close() takes over). */
  stop(): void;
}

/**
 * BullMQ's Worker fetches its next job again at once when the fetch failed with a Redis error that
 * is not a lost connection. With Redis refusing writes — out of memory under noeviction, a
 * read-only replica, too few replicas — that is a tight loop: measured (chaos/redis-oom.ts) ~2 300
 * `worker_error` lines per second per worker process for as long as it lasted. On such an error
 * this pauses the Worker locally (jobs in flight go on), probes with one small write every
 * `probeEveryMs`, and resumes every Worker it paused once the probe passes. One warning when it
 * starts, a reminder every `remindMs`, one line when writes are taken again.
 */
export function createRefusalGuard(o: RefusalGuardOptions): RefusalGuard {
  const now = o.now ?? Date.now;
  const probeEveryMs = o.probeEveryMs ?? 2_000;
  const remindMs = o.remindMs ?? 30_000;
  const paused = new Set<Worker>();
  let since: number | null = null;
  let first = '';
  let count = 0;
  let lastLog = 0;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  // every Worker of the process (runs, webhooks, schedules, housekeeping) reports every retry of a
  // lost connection: ~9 lines a second, measured (70 in an 8 s outage; 199 in 3 s from two workers
  // in a Sentinel failover, `All sentinels are unreachable`). One limiter per message, so another
  // error is never hidden behind the repeats of the first.
  const limiters = new Map<string, (f: { queue: string; error: string }) => void>();
  const workerError = (queue: string, err: Error) => {
    let write = limiters.get(err.message);
    if (!write) {
      if (limiters.size >= 100) limiters.clear(); // messages with ever-new text (ids): stay bounded
      write = burstLimited((f: { queue: string; error: string }) => o.log.error('worker_error', f), o.errorEveryMs ?? 5_000, now);
      limiters.set(err.message, write);
    }
    write({ queue, error: err.message });
  };

  async function probe(): Promise<void> {
    timer = undefined;
    if (stopped || since === null) return;
    try {
      await o.probe();
    } catch (err) {
      if (now() - lastLog >= remindMs) {
        lastLog = now();
        o.log.warn('redis_refusing', { error: (err as Error).message, refused_for_ms: now() - since, refusals: count });
      }
      if (!stopped) timer = setTimeout(() => void probe(), probeEveryMs);
      return;
    }
    if (stopped) return;
    o.log.info('redis_accepting', { refused_for_ms: now() - since, refusals: count });
    since = null;
    count = 0;
    for (const w of paused) void w.resume();
    paused.clear();
  }

  function refused(worker: Worker, queue: string, err: Error): void {
    count++;
    if (since === null) {
      since = lastLog = now();
      first = err.message;
      o.log.warn('redis_refusing', { queue, error: err.message, probe_every_ms: probeEveryMs });
      timer = setTimeout(() => void probe(), probeEveryMs);
    }
    if (paused.has(worker) || worker.isPaused()) return;
    paused.add(worker);
    void worker.pause(true).catch(() => undefined);
  }

  return {
    watch(worker, queue) {
      worker.on('error', (err) => {
        // a lost connection BullMQ waits out itself (its runRetryDelay); the rest it retries at once
        if (!stopped && isNotConnectionError(err) && isRedisUnavailable(err)) refused(worker, queue, err);
        else workerError(queue, err);
      });
    },
    refusing: () => (since === null ? null : `redis refuses this worker's writes since ${new Date(since).toISOString()}: ${first}`),
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
    },
  };
}

/** How long a job waits after Redis refused one of its commands (parkOnRefusal). */
export const REDIS_RETRY_MS = 5_000;

type Processor<R> = (job: Job, token: string | undefined, signal?: AbortSignal) => Promise<R>;

export interface ParkOptions {
  delayMs: number;
  log: Logger;
  now(): number;
  /** The warning's name and fields, e.g. `run_redis_retry` and `{ run }`. */
  event: string;
  fields(job: Job): Record<string, string | number>;
}

/**
 * Wraps a BullMQ processor whose work is safe to redo (a run pass resumes from its last write, a
 * schedule tick is claimed once per fire time). When it fails because Redis refused a command —
 * down, out of memory, a read-only replica, too few replicas — the job did nothing wrong: it is
 * parked `delayMs` (moveToDelayed) instead of failed, which would spend one of its attempts (a run
 * job's five, backoff 1–8 s, were used up by a quarter-minute of refusals and failed the run). If
 * parking is refused too, the error goes to BullMQ as before.
 */
export function parkOnRefusal<R>(processor: Processor<R>, o: ParkOptions): Processor<R> {
  return async (job, token, signal) => {
    try {
      return await processor(job, token, signal);
    } catch (err) {
      if (!token || !isRedisUnavailable(err)) throw err;
      try {
        await job.moveToDelayed(o.now() + o.delayMs, token);
      } catch {
        throw err;
      }
      o.log.warn(o.event, { ...o.fields(job), delay_ms: o.delayMs, error: (err as Error).message });
      throw new DelayedError();
    }
  };
}
