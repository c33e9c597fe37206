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
