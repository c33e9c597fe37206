import type { Job } from 'bullmq';
import type { Logger } from '@sup/logging';
import type { Health } from './metrics.js';

/**
 * What ioredis' own reconnects cannot fix, seen from inside the worker:
 *   - a connection that is `ready` but never answers (Redis frozen, a half-open TCP connection
 *     after a network fault: no RST, so no reconnect) — a PING with a deadline;
 *   - the BullMQ Worker no longer taking jobs although it has free slots and jobs are waiting
 *     (its blocking connection stuck) — jobs waiting over two checks and none started. Jobs the
 *     queue holds back on purpose (a global rate limit or concurrency set in bull-board) are
 *     "throttled": healthy, logged when it starts and ends, never a reason to exit.
 * Either makes /healthz unhealthy at once. A Worker that takes no job is first mended in the
 * process (`recover`: a fresh BullMQ Worker, a new blocking connection) once it has been stuck
 * `recoverAfterMs`, and again every 3 × `recoverAfterMs` while it stays stuck; only if the process is
 * still stuck after `stuckExitMs` does it exit non-zero so its supervisor starts a fresh one (runs
 * in flight resume elsewhere: stall detection). A connection ioredis knows is down
 * (`reconnecting`) is reported but is not "stuck": it recovers.
 */
export interface WatchdogDeps {
  /** Non-blocking connections, PINGed every check (with a command that reaches this deployment's slot). */
  conns: Record<string, { status: string; ping(): Promise<unknown> }>;
  isRunning(): boolean;
  /**
   * Why Redis refuses this process's job fetches (RefusalGuard), or null. Reported as unhealthy, but
   * not "stuck": the Worker is paused on purpose, and a restart would not make Redis take writes.
   */
  refusing?(): string | null;
  /** Jobs ready to be taken now (wait + prioritized); only asked while a slot is free. */
  waiting(): Promise<number>;
  /**
   * Why the queue holds jobs back on purpose (a global rate limit or concurrency, e.g. set in
   * bull-board), or null (queueThrottle). Jobs waiting meanwhile are throttled, not "stuck": healthy,
   * logged once when it starts and once when it ends. Asked with `waiting`.
   */
  throttled?(): Promise<string | null>;
  concurrency: number;
  isClosing(): boolean;
  log: Logger;
  intervalMs?: number;
  pingTimeoutMs?: number;
  /** 0 = never exit. */
  stuckExitMs?: number;
  /**
   * Mends a Worker that takes no job (not running, or jobs waiting and none taken) without a
   * restart: e.g. replaces it with a fresh one (renewable.ts). Tried once that lasted
   * `recoverAfterMs` (default two checks), then every 3 × `recoverAfterMs`; the exit after
   * `stuckExitMs` stays the last resort.
   */
  recover?(reason: string): Promise<unknown>;
  recoverAfterMs?: number;
  /**
   * After a throttle ends, jobs not taken yet are not "stuck" for this long: a BullMQ Worker that
   * met the limit sleeps up to its maximumRateLimitDelay (30 s by default) before it fetches again.
   */
  throttleGraceMs?: number;
  now?(): number;
  exit?(code: number): void;
}

export interface Watchdog {
  /** Wraps the processor to see jobs start and end; keeps its arity (BullMQ passes the signal only to 3-argument processors). */
  track<R>(processor: (job: Job, token: string | undefined, signal?: AbortSignal) => Promise<R>): (job: Job, token: string | undefined, signal?: AbortSignal) => Promise<R>;
  health(): Health;
  /** One check (the timer calls it; tests call it directly). */
  check(): Promise<Health>;
  start(): void;
  stop(): void;
}

export function createWatchdog(d: WatchdogDeps): Watchdog {
  const now = d.now ?? Date.now;
  const intervalMs = d.intervalMs ?? 2_000;
  const pingTimeoutMs = d.pingTimeoutMs ?? 1_000;
  const stuckExitMs = d.stuckExitMs ?? 60_000;
  const throttleGraceMs = d.throttleGraceMs ?? 30_000;
  const recoverAfterMs = d.recoverAfterMs ?? 2 * intervalMs;
  let lastRecoverMs: number | null = null;
  let recovering = false;
  let active = 0;
  let lastStartMs = now();
  let waitingSinceMs: number | null = null;
  let stuckSinceMs: number | null = null;
  let current: Health = { ok: true };
  let throttle: string | null = null;
  let throttleEndedMs: number | null = null;
  let timer: NodeJS.Timeout | undefined;
  let running = false;

  /** What `p` resolves to, or `fallback` when it fails or takes longer than a ping may. */
  const within = <T>(p: Promise<T>, fallback: T) =>
    Promise.race([p.catch(() => fallback), new Promise<T>((r) => setTimeout(() => r(fallback), pingTimeoutMs).unref())]);

  /** 'ok', 'timeout', or the error Redis answered with. */
  const ping = (c: WatchdogDeps['conns'][string]) =>
    within(c.ping().then(() => 'ok', (err: unknown) => (err instanceof Error ? err.message : String(err)) || 'error'), 'timeout');

  async function check(): Promise<Health> {
    if (d.isClosing()) return current;
    const down: string[] = [];
    const stuck: string[] = [];
    /** Of `stuck`: the ones a fresh Worker mends (not a connection that does not answer). */
    const fetching: string[] = [];
    const refusal = d.refusing?.() ?? null;
    if (refusal) down.push(refusal);
    else if (!d.isRunning()) fetching.push('the BullMQ worker is not running');
    await Promise.all(Object.entries(d.conns).map(async ([name, c]) => {
      if (c.status !== 'ready') return void down.push(`redis connection ${name} is ${c.status}`);
      const answer = await ping(c);
      if (answer === 'timeout') stuck.push(`redis connection ${name} did not answer PING within ${pingTimeoutMs} ms`);
      // refused (a Cluster whose master of this deployment's slot is down): down, not stuck — a
      // restart of this process would not bring the master back
      else if (answer !== 'ok') down.push(`redis connection ${name} is refused: ${answer.slice(0, 200)}`);
    }));
    if (down.length === 0 && stuck.length === 0 && active < d.concurrency) {
      const [n, why] = await Promise.all([within(d.waiting(), 0), d.throttled ? within(d.throttled(), throttle) : null]); // unanswered: as last seen
      if (why && !throttle) d.log.warn('queue_throttled', { reason: why, action: 'jobs wait for the limit; not counted as a stuck worker' });
      if (!why && throttle) {
        d.log.info('queue_throttle_ended', { was: throttle });
        throttleEndedMs = now();
      }
      throttle = why;
      const lifting = throttleEndedMs !== null && now() - throttleEndedMs < throttleGraceMs;
      if (why || lifting) waitingSinceMs = null;
      else if (n > 0 && lastStartMs < (waitingSinceMs ??= now())) {
        if (now() - waitingSinceMs >= intervalMs) fetching.push(`${n} jobs waiting and ${d.concurrency - active} free slots, but no job taken for ${now() - waitingSinceMs} ms`);
      } else waitingSinceMs = null;
    } else waitingSinceMs = null;
    stuck.push(...fetching);

    if (stuck.length === 0) stuckSinceMs = null;
    else stuckSinceMs ??= now();
    const problems = [...down, ...stuck];
    const was = current.ok;
    current = problems.length ? { ok: false, reason: problems.join('; ') } : { ok: true };
    if (was && !current.ok) d.log.warn('worker_unhealthy', { reason: current.reason });
    if (!was && current.ok) d.log.info('worker_healthy', {});
    if (fetching.length === 0) lastRecoverMs = null;
    // the first try once stuck recoverAfterMs, then every 3 × recoverAfterMs (a retired Worker whose
    // fetch loop never ends keeps its connections until the process ends: a few, not one per check)
    else if (d.recover && !recovering && stuckSinceMs !== null && now() - (lastRecoverMs ?? stuckSinceMs) >= (lastRecoverMs === null ? 1 : 3) * recoverAfterMs) {
      lastRecoverMs = now();
      recovering = true;
      const reason = fetching.join('; ');
      d.log.warn('worker_recovering', { reason, stuck_ms: now() - stuckSinceMs, action: 'a fresh BullMQ worker in this process; exit only if still stuck after stuck_exit_ms', stuck_exit_ms: stuckExitMs });
      void d.recover(reason).catch((err: Error) => d.log.error('worker_recover_failed', { error: err.message })).finally(() => {
        recovering = false;
      });
    }
    if (stuckExitMs > 0 && stuckSinceMs !== null && now() - stuckSinceMs >= stuckExitMs) {
      d.log.error('worker_stuck', { reason: stuck.join('; '), stuck_ms: now() - stuckSinceMs, action: 'exit 1 so the supervisor restarts this process' });
      (d.exit ?? process.exit)(1);
    }
    return current;
  }

  return {
    track(processor) {
      return async (job: Job, token: string | undefined, signal?: AbortSignal) => {
        active++;
        lastStartMs = now();
        try {
          return await processor(job, token, signal);
        } finally {
          active--;
        }
      };
    },
    health: () => current,
    check,
    start() {
      if (timer) return;
      const tick = async () => {
        if (running) return;
        running = true;
        try {
          await check();
        } catch (err) {
          d.log.error('watchdog_error', { error: (err as Error).message });
        } finally {
          running = false;
        }
      };
      timer = setInterval(() => void tick(), intervalMs);
      timer.unref();
    },
    stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
    },
  };
}

/** Healthy when every check is; the first failing one gives the reason. */
export function allHealthy(...checks: Array<() => Health>): () => Health {
  return () => {
    for (const c of checks) {
      const h = c();
      if (!h.ok) return h;
    }
    return { ok: true };
  };
}
