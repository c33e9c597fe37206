/**
 * Masking of personal data and secrets in free text. Used by incident_triage's `privacy` node
 * (with the values the privacy scan flagged) and as a last pass over every report. Over-masking
 * is the safe direction: a masked request id costs nothing, a leaked e-mail does.
 */

const RULES: Array<[RegExp, string]> = [
  [/[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/g, '[email]'],
  [/\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g, '[token]'], // JWT
  [/\b(authorization\s*[:=]\s*)(?:[A-Za-z]+\s+)?[^\s"',;]+/gi, '$1[redacted]'],
  [/\b(bearer)\s+[A-Za-z0-9._~+/=-]{8,}/gi, '$1 [token]'],
  [/\b((?:access|refresh|auth|api|session|client|private)?[_-]?(?:token|key|secret|password|passwd|pwd))(\s*[=:]\s*)["']?[^\s"'&,;]+/gi, '$1$2[redacted]'],
  [/\b(?:(?:sk|pk|rk)_(?:live|test)_[A-Za-z0-9]{8,}|gh[pousr]_[A-Za-z0-9]{20,}|xox[abprs]-[A-Za-z0-9-]{10,}|AKIA[0-9A-Z]{16})\b/g, '[token]'],
  // long opaque strings mixing upper case, lower case and digits; hex ids and UUIDs stay readable
  [/\b(?=[A-Za-z0-9_-]*[A-Z])(?=[A-Za-z0-9_-]*[a-z])(?=[A-Za-z0-9_-]*\d)[A-Za-z0-9_-]{24,}/g, '[token]'],
  [/\+\d[\d\s().-]{6,}\d/g, '[phone]'],
];

/** Masks e-mail-like, token-like and international-phone-like substrings. */
export function maskText(s: string): string {
  let out = s;
  for (const [re, to] of RULES) out = out.replace(re, to);
  return out;
}

/** Shorter flagged values are not masked on their own: they would blank out ordinary words. */
export const MIN_SAMPLE_LENGTH = 3;

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * A masker that replaces every flagged value (case-insensitively, longest first) with
 * `[redacted]`, then applies maskText.
 */
export function redactor(flagged: Iterable<string>): (s: string) => string {
  const values = [...new Set([...flagged].map((v) => v.trim()).filter((v) => v.length >= MIN_SAMPLE_LENGTH))].sort((a, b) => b.length - a.length);
  const re = values.length ? new RegExp(values.map(escape).join('|'), 'gi') : null;
  return (s) => maskText(re ? s.replace(re, '[redacted]') : s);
}

/** Applies `mask` to every string in a JSON-like value; keys, numbers and booleans are kept. */
export function maskDeep<T>(value: T, mask: (s: string) => string = maskText): T {
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return mask(v);
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  return walk(value) as T;
}

/** Every string in a JSON-like value, except under the named keys (e.g. a finding's `type`). */
export function stringsIn(value: unknown, skipKeys: ReadonlySet<string> = new Set()): string[] {
  const out: string[] = [];
  const walk = (v: unknown) => {
    if (typeof v === 'string') out.push(v);
    else if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) if (!skipKeys.has(k)) walk(x);
  };
  walk(value);
  return out;
}
