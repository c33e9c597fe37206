/**
 * Redis' clock (`TIME`) as seen from this process: the local clock plus an offset measured against
 * Redis, half the round trip taken off. Processes on hosts whose clocks disagree (a broken NTP, a VM
 * resumed after a pause) read the same "now" from it to within their round trips, so a time one
 * process stores (release_check's first poll) and another compares with its own now stays
 * meaningful. BullMQ keeps each process's own Date.now for its delays: see docs/deployment.md.
 */
export class RedisClock {
  private offset = 0;

  constructor(
    private readonly redis: { time(): Promise<unknown> },
    private readonly local: () => number = Date.now,
  ) {}

  /** Redis' time in ms, by the last sync (the local clock until the first one). */
  readonly now = (): number => this.local() + this.offset;

  /** Redis' clock minus the local clock, in ms, at the last sync. */
  get offsetMs(): number {
    return this.offset;
  }

  /** Measures the offset again; returns it. */
  async sync(): Promise<number> {
    const before = this.local();
    const [sec, usec] = (await this.redis.time()) as [string | number, string | number];
    const after = this.local();
    const redisMs = Number(sec) * 1000 + Math.floor(Number(usec) / 1000);
    if (!Number.isFinite(redisMs)) throw new Error(`TIME answered ${String(sec)} ${String(usec)}`);
    this.offset = Math.round(redisMs - (before + after) / 2);
    return this.offset;
  }
}

/** From this offset on (ms, either way) a process says its clock disagrees with Redis'. */
export const CLOCK_WARN_MS = 1_000;

type ClockLog = Record<'info' | 'warn', (message: string, meta: Record<string, unknown>) => unknown>;

/**
 * Keeps a RedisClock on Redis' time: one sync now, then one every `everyMs` (an NTP step or a
 * resumed VM moves the local clock). `clock_offset` is logged at the first sync and whenever the
 * offset moved by CLOCK_WARN_MS since the last line — a warning from CLOCK_WARN_MS on: run records
 * are stamped on Redis' clock, but BullMQ's delays (parked runs, schedule ticks) follow the local
 * one (docs/deployment.md, "Clocks"). A failed sync keeps the last offset. Resolves after the first
 * attempt; returns the stop function.
 */
export async function keepClockSynced(clock: RedisClock, log: ClockLog, everyMs = 60_000): Promise<() => void> {
  let said: number | undefined;
  const sync = async (): Promise<void> => {
    const off = await clock.sync().catch(() => undefined);
    if (off === undefined || (said !== undefined && Math.abs(off - said) < CLOCK_WARN_MS)) return;
    said = off;
    const level = Math.abs(off) >= CLOCK_WARN_MS ? 'warn' : 'info';
    log[level]('clock_offset', { offset_ms: off, ...(level === 'warn' ? { note: 'this host\'s clock differs from Redis\'; fix NTP (delays of parked runs and schedule ticks follow the host clock)' } : {}) });
  };
  const timer = setInterval(() => void sync(), everyMs);
  timer.unref();
  await sync();
  return () => clearInterval(timer);
}
