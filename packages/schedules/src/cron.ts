import { CronExpressionParser } from 'cron-parser';

// the parser BullMQ itself uses (same pinned version), so what passes here BullMQ can schedule
const MACROS = new Set(['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@hourly', '@minutely', '@secondly', '@weekdays', '@weekends']);
const FIELD_NAMES = ['second', 'minute', 'hour', 'day-of-month', 'month', 'day-of-week'];

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
 * The form a cron is stored and handed to BullMQ in: trimmed, and a macro lowercased — the parser
 * knows `@hourly` but not `@Hourly`, while month and day names are case-insensitive there already.
 */
export function normalizeCron(expr: string): string {
  const s = expr.trim();
  return s.startsWith('@') ? s.toLowerCase() : s;
}

/**
 * cron-parser's `H` ("hash": any one value) is drawn from an unseeded random generator on every
 * parse, and BullMQ parses the pattern again for each next fire time: such a schedule fires at
 * another time on every tick, and no preview can say when. The name of the first field using it, or
 * null. Month and day names (`THU`) are dropped first, as the parser replaces them before it hashes.
 */
function hashedField(fields: string[]): string | null {
  const names = FIELD_NAMES.slice(FIELD_NAMES.length - fields.length);
  const i = fields.findIndex((f, n) => (n >= fields.length - 2 ? f.replace(/[a-z]{3}/gi, '') : f).includes('H'));
  return i < 0 ? null : names[i]!;
}

/**
 * A 5-field (`m h dom mon dow`) or 6-field (leading seconds) expression, or a macro like `@daily`
 * (any case); null when fine, else the reason. The parser alone accepts too little (`* * *` fills the
 * rest in) and too much (`H`).
 */
export function checkCron(expr: string, tz?: string): string | null {
  const s = normalizeCron(expr);
  const fields = s.split(/\s+/);
  if (s.startsWith('@')) {
    if (!MACROS.has(s)) return `unknown macro ${s} (known: ${[...MACROS].join(', ')})`;
  } else if (fields.length < 5 || fields.length > 6) {
    return `expected 5 fields (minute hour day-of-month month day-of-week) or 6 with leading seconds, got ${fields.length}`;
  }
  try {
    CronExpressionParser.parse(s, tz ? { tz } : {}).next();
  } catch (err) {
    return (err as Error).message;
  }
  const hashed = s.startsWith('@') ? null : hashedField(fields);
  if (hashed) {
    return `the ${hashed} field uses H, which is not supported: it would be a different random value on every tick; write the value itself (e.g. "17 * * * *" instead of "H * * * *")`;
  }
  return null;
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
