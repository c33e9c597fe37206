/**
 * `Date#toISOString()` for a millisecond timestamp, without a Date per call. Every step writes a
 * few timestamps (history entry, event, record) and toISOString costs ~1 µs each, which showed in
 * a worker's profile; the date-and-minute part is formatted once per minute and reused.
 * Same output as toISOString for 1970-01-01 … 9999-12-31 (outside that, it falls back to it).
 */
let minute = Number.NaN;
let prefix = '';
const MAX_MS = 253_402_300_799_999; // 9999-12-31T23:59:59.999Z

export function isoTime(ms: number = Date.now()): string {
  if (!Number.isInteger(ms) || ms < 0 || ms > MAX_MS) return new Date(ms).toISOString();
  const m = Math.floor(ms / 60_000);
  if (m !== minute) {
    minute = m;
    prefix = new Date(m * 60_000).toISOString().slice(0, 17); // "2026-11-28T00:25:"
  }
  const rest = ms - m * 60_000;
  const s = Math.floor(rest / 1000);
  const milli = rest - s * 1000;
  return `${prefix}${s < 10 ? '0' : ''}${s}.${milli < 100 ? (milli < 10 ? '00' : '0') : ''}${milli}Z`;
}
