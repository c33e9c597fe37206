import { CronExpressionParser } from 'cron-parser';

// the parser BullMQ itself uses (same pinned version), so what passes here BullMQ can schedule
const MACROS = new Set(['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@hourly', '@minutely', '@secondly', '@weekdays', '@weekends']);

/** An IANA time zone such as `Europe/Kyiv`; null when fine, else the reason. */
export function checkTz(tz: string): string | null {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return null;
  } catch {
    return `unknown time zone ${JSON.stringify(tz)} (expected an IANA name such as Europe/Berlin or UTC)`;
  }
}

/**
 * A 5-field (`m h dom mon dow`) or 6-field (leading seconds) expression, or a macro like `@daily`;
 * null when fine, else the reason. The parser alone accepts too little (`* * *` fills the rest in).
 */
export function checkCron(expr: string, tz?: string): string | null {
  const s = expr.trim();
  const fields = s.split(/\s+/).length;
  if (s.startsWith('@')) {
    if (!MACROS.has(s.toLowerCase())) return `unknown macro ${s} (known: ${[...MACROS].join(', ')})`;
  } else if (fields < 5 || fields > 6) {
    return `expected 5 fields (minute hour day-of-month month day-of-week) or 6 with leading seconds, got ${fields}`;
  }
  try {
    CronExpressionParser.parse(s, tz ? { tz } : {}).next();
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}

/** The next `n` fire times from `fromMs` (inclusive for `every`, as BullMQ aligns it). */
export function fireTimes(s: { cron?: string; every_sec?: number; tz?: string }, fromMs: number, n: number): number[] {
  if (s.every_sec !== undefined) {
    const every = s.every_sec * 1000;
    return Array.from({ length: n }, (_, i) => fromMs + i * every);
  }
  try {
    const it = CronExpressionParser.parse(s.cron!, { currentDate: new Date(fromMs - 1), ...(s.tz ? { tz: s.tz } : {}) });
    return Array.from({ length: n }, () => it.next().getTime());
  } catch {
    return [];
  }
}
