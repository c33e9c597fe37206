import { z } from 'zod';
import { WEBHOOK_HOST_PATTERN } from '@sup/contracts';

// Every variable reads unset and empty alike: the default (compose passes `${X:-}` as "").

const RANGES = new WeakMap<z.ZodType, [number, number]>();

/**
 * A numeric variable within [min, max]; `integer` rejects fractions. Unset or empty → `def`.
 * Plain decimal only: `Number()` would also read `0x50` (80), `1e1` (10) and `0b1`.
 */
const numeric = (def: number, min: number, max: number, integer: boolean) => {
  const schema = z.string().optional().transform((v, ctx) => {
    const s = (v ?? '').trim();
    if (s === '') return def;
    const n = (integer ? /^\d+$/ : /^(\d+\.?\d*|\.\d+)$/).test(s) ? Number(s) : Number.NaN;
    if (!(n >= min && n <= max)) {
      ctx.addIssue({ code: 'custom', message: `expected ${integer ? 'an integer' : 'a number'} between ${min} and ${max} (decimal digits${integer ? '' : ' and a point'} only)` });
      return z.NEVER;
    }
    return n;
  });
  RANGES.set(schema, [min, max]);
  return schema;
};
/** [min, max] of a numeric variable's schema (the README states them; its test compares). */
export const numericRange = (schema: z.ZodType): [number, number] | undefined => RANGES.get(schema);
export const int = (def: number, min = 0, max = Number.MAX_SAFE_INTEGER) => numeric(def, min, max, true);
export const num = (def: number, min: number, max: number) => numeric(def, min, max, false);

/** A string whose empty value means the default, like every other variable. */
export const text = (def: string) => z.string().optional().transform((v) => v || def);

export const bool = (def: boolean) =>
  z.string().optional().transform((v, ctx) => {
    if (v === undefined || v === '') return def;
    if (/^(1|true|yes|on)$/i.test(v)) return true;
    if (/^(0|false|no|off)$/i.test(v)) return false;
    ctx.addIssue({ code: 'custom', message: 'expected true or false' });
    return z.NEVER;
  });

/** Any case, as LOG_LEVEL. */
export const logFormat = z.preprocess(
  (v) => (typeof v === 'string' && v.trim() !== '' ? v.trim().toLowerCase() : undefined),
  z.enum(['text', 'json']).default('text'),
);

/**
 * A comma-separated list; unset or empty = none. A value that names nothing (`,`, blanks) is
 * refused: for API_KEYS it would quietly switch authentication off, for WEBHOOK_ALLOWED_HOSTS
 * allow every host. `unsetMeans` says what leaving it unset does.
 */
const nonEmptyList = (unsetMeans: string) => z.string().optional().transform((v, ctx) => {
  const items = (v ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  if (v && items.length === 0) {
    ctx.addIssue({ code: 'custom', message: `set but lists nothing: give comma-separated entries, or unset it ${unsetMeans}` });
    return z.NEVER;
  }
  return items;
});

/**
 * API_KEYS. Node reads header values as latin1, so a key outside printable ASCII (`clé`) can never
 * match an `Authorization: Bearer` header: refused rather than locking every client out.
 */
export const apiKeys = nonEmptyList('to run without authentication').superRefine((keys, ctx) => {
  const bad = keys.findIndex((k) => !/^[\x20-\x7e]+$/.test(k));
  if (bad >= 0) ctx.addIssue({ code: 'custom', message: `key ${bad + 1} of ${keys.length} has a character outside printable ASCII, which no Authorization header can carry` });
});

/** WEBHOOK_ALLOWED_HOSTS: comma-separated `host`, `host:port` or `*.domain`; empty = any host. */
export const webhookHosts = nonEmptyList('to allow any host').superRefine((hosts, ctx) => {
  const bad = hosts.filter((h) => {
    const port = /:(\d+)$/.exec(h)?.[1];
    return !WEBHOOK_HOST_PATTERN.test(h) || (port !== undefined && !(Number(port) >= 1 && Number(port) <= 65_535));
  });
  if (bad.length > 0) ctx.addIssue({ code: 'custom', message: `not a host, host:port (port 1-65535) or *.domain: ${bad.join(', ')}` });
});
