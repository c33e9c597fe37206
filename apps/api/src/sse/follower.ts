import { AppError, isTerminal, type RunStatus } from '@sup/contracts';
import type { Logger } from '@sup/logging';
import type { RedisClient } from '@sup/run-store';

/** One live event stream (an SSE response) as the follower sees it. */
export interface FollowerSession {
  /** New events may exist: read the stream after your cursor. */
  notify(): void;
  /**
   * Periodic: keep the connection alive, and re-check in case a notification was lost. `ended`: the
   * run was read (once for all its sessions) as finished or gone, so the stream ends once caught up.
   */
  heartbeat(ended: boolean): void;
  /** The process is stopping: finish the response. */
  end(): void;
}

export interface EventFollowerOptions {
  /** A connection of its own: it is switched to subscriber mode and used for nothing else. */
  subscriber: RedisClient;
  /** The run store's events channel: every commit publishes the run id there. */
  channel: string;
  /**
   * The run's status, null when the run is gone (RunStore.status: the head of the record only). Read
   * once per heartbeat per followed run, however many sessions follow it.
   */
  runStatus(runId: string): Promise<RunStatus | null>;
  log: Logger;
  /** Default 15 s: below the idle timeouts of common proxies (nginx 60 s, ELB 60 s). */
  heartbeatMs?: number;
}

/**
 * The one follower per API process. Every SSE response registers here; the process holds a single
 * subscription to the store's events channel (run ids, published by commit.lua with the events) and
 * wakes only the sessions of that run, which then read the stream with a plain XRANGE after their
 * cursor on the shared command connection. So N followers cost one Redis connection, none of them
 * blocks, and a session never misses an event: it registers before its first read, and every
 * commit after that read publishes.
 */
export class EventFollower {
  private readonly byRun = new Map<string, Set<FollowerSession>>();
  private subscribed: Promise<unknown> | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** A heartbeat still reading statuses: the next tick is skipped rather than piled on a slow Redis. */
  private beating = false;
  private closing: Promise<void> | undefined;

  constructor(private readonly o: EventFollowerOptions) {
    o.subscriber.on('message', (channel: string, runId: string) => {
      if (channel === o.channel) this.byRun.get(runId)?.forEach((s) => s.notify());
    });
    // what was published while the connection was down is lost: every session re-reads
    o.subscriber.on('ready', () => {
      if (this.subscribed) this.each((s) => s.notify());
    });
  }

  /** Sessions following right now (for tests and metrics). */
  get size(): number {
    let n = 0;
    for (const set of this.byRun.values()) n += set.size;
    return n;
  }

  /**
   * Registers a session; resolves once notifications for the run reach it, so the caller's first
   * read comes after that. Returns the function that unregisters it.
   */
  async add(runId: string, session: FollowerSession): Promise<() => void> {
    if (this.closing) throw new AppError(503, 'shutting_down', 'the API is stopping; reconnect');
    // subscribed lazily: a process nobody follows keeps its subscriber connection idle
    this.subscribed ??= this.o.subscriber.subscribe(this.o.channel).catch((err: unknown) => {
      this.subscribed = undefined;
      throw err;
    });
    await this.subscribed;
    let set = this.byRun.get(runId);
    if (!set) this.byRun.set(runId, (set = new Set()));
    set.add(session);
    this.timer ??= setInterval(() => void this.heartbeat(), this.o.heartbeatMs ?? 15_000);
    return () => this.remove(runId, session);
  }

  private remove(runId: string, session: FollowerSession): void {
    const set = this.byRun.get(runId);
    if (!set?.delete(session)) return;
    if (set.size === 0) this.byRun.delete(runId);
    if (this.byRun.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  /**
   * One tick: each followed run's status is read once and given to all of its sessions (200
   * followers of one run used to read and parse its whole record 200 times). A failed read ends
   * nothing: the sessions re-read their streams and the next tick checks again.
   */
  private async heartbeat(): Promise<void> {
    if (this.beating) return;
    this.beating = true;
    try {
      await Promise.all([...this.byRun.keys()].map(async (runId) => {
        const status = await this.o.runStatus(runId).catch(() => undefined);
        const ended = status === null || (status !== undefined && isTerminal(status));
        for (const s of [...(this.byRun.get(runId) ?? [])]) s.heartbeat(ended);
      }));
    } finally {
      this.beating = false;
    }
  }

  private each(fn: (s: FollowerSession) => void): void {
    for (const set of [...this.byRun.values()]) for (const s of [...set]) fn(s);
  }

  /** Ends every stream and quits the subscriber connection; idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.each((s) => s.end());
      if (this.timer) clearInterval(this.timer);
      this.timer = undefined;
      const sub = this.o.subscriber;
      // a lazy connection nobody ever followed through is not opened just to be quit
      if (sub.status === 'wait') sub.disconnect();
      else await sub.quit().catch(() => sub.disconnect());
    })();
    return this.closing;
  }
}
