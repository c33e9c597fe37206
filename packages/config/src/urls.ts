import { z } from 'zod';

/**
 * A configured URL as it may be shown (`/healthz`, start-up lines): scheme, host, port and path
 * only. User info and a query can carry credentials; the fragment is never sent anyway.
 */
export function redactUrl(url: string): string {
  if (!URL.canParse(url)) return '(not a URL)';
  const u = new URL(url);
  return `${u.protocol}//${u.host}${u.pathname}`.replace(/\/$/, '');
}

/**
 * An http(s) base URL. `router:8000` parses as a URL with the scheme `router:`, so the scheme is
 * checked. A query or fragment is refused: tool calls resolve `v1/tools/execute` against the base,
 * which drops both silently (`?token=` never reaches the gateway; its key is SUPERVISOR_API_KEY).
 * User info is kept (got sends it as Basic auth when no key is set) but never shown: redactUrl.
 */
export const httpUrl = (def: string) =>
  z.string().optional().transform((v, ctx) => {
    const s = v || def;
    const u = URL.canParse(s) ? new URL(s) : null;
    if (!u || (u.protocol !== 'http:' && u.protocol !== 'https:') || !u.hostname) {
      ctx.addIssue({ code: 'custom', message: 'expected an http:// or https:// URL, such as http://router:8000' });
      return z.NEVER;
    }
    if (/[?#]/.test(s)) {
      ctx.addIssue({ code: 'custom', message: 'a query string or fragment would be dropped from every tool call: remove it (the gateway key goes in SUPERVISOR_API_KEY)' });
      return z.NEVER;
    }
    return u.toString().replace(/\/$/, '');
  });
