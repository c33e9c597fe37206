import type { Logger } from '@sup/logging';
import type { RedisClock } from '@sup/run-store';

/** From this offset on (ms, either way) the worker says its clock disagrees with Redis'. */
export const CLOCK_WARN_MS = 1_000;

/**
 * Keeps the nodes' clock (RedisClock) on Redis' time: one sync now, then one every `everyMs` (an NTP
 * step or a resumed VM moves the local clock). `clock_offset` is logged at start and whenever the
 * offset moved by CLOCK_WARN_MS since the last line — a warning from CLOCK_WARN_MS on, as BullMQ's
 * delays still use the local clock (docs/deployment.md, "Clocks"). A failed sync keeps the last
 * offset (Redis down: nothing runs anyway).
 */
export async function keepClockSynced(clock: RedisClock, log: Logger, everyMs = 60_000): Promise<() => void> {
  let said: number | undefined;
  const sync = async (): Promise<void> => {
    const off = await clock.sync().catch(() => undefined);
    if (off === undefined || (said !== undefined && Math.abs(off - said) < CLOCK_WARN_MS)) return;
    said = off;
    const level = Math.abs(off) >= CLOCK_WARN_MS ? 'warn' : 'info';
    log[level]('clock_offset', { offset_ms: off, ...(level === 'warn' ? { note: 'this host\'s clock differs from Redis\'; fix NTP (delays of parked runs and schedule ticks follow the host clock)' } : {}) });
  };
  await sync();
  const timer = setInterval(() => void sync(), everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
