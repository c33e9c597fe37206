import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Request, RequestHandler } from 'express';
import { AppError } from '@sup/contracts';
import { keyMatcher } from './auth.js';

export const ADMIN_COOKIE = 'sup_admin';
const SESSION_SEC = 12 * 3600;

/**
 * A session value that proves knowledge of an API key without containing it: `<exp>.<mac>` with
 * mac = HMAC-SHA256(key, exp). Stateless, so any API process of the deployment accepts it, and
 * removing the key from API_KEYS ends every session made with it.
 */
const mac = (key: string, exp: string) => createHmac('sha256', key).update(`sup-admin-session:${exp}`).digest('base64url');

export function sessionValue(key: string, nowMs: number): string {
  const exp = String(Math.floor(nowMs / 1000) + SESSION_SEC);
  return `${exp}.${mac(key, exp)}`;
}

export function validSession(keys: string[], value: string | undefined, nowMs: number): boolean {
  const m = /^(\d{1,12})\.([A-Za-z0-9_-]{43})$/.exec(value ?? '');
  if (!m || Number(m[1]) * 1000 <= nowMs) return false;
  const got = Buffer.from(m[2]!);
  let ok = false;
  for (const k of keys) if (timingSafeEqual(Buffer.from(mac(k, m[1]!)), got)) ok = true;
  return ok;
}

function cookie(req: Request, name: string): string | undefined {
  for (const part of (req.get('cookie') ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

/**
 * Guards everything under /admin. A browser cannot send a Bearer header, so besides
 * `Authorization: Bearer <key>` it accepts the key once as `?api_key=<key>`: the answer sets an
 * HttpOnly, SameSite=Strict session cookie (scoped to /admin) and redirects to the same URL
 * without the key, so it does not stay in the address bar.
 */
export function requireAdmin(keys: string[], now: () => number = Date.now): RequestHandler {
  const matches = keyMatcher(keys);
  return (req, res, next) => {
    if (keys.length === 0) return next();
    const bearer = /^Bearer\s+(.+)$/i.exec(req.get('authorization') ?? '');
    if (bearer && matches(bearer[1]!.trim())) return next();
    if (validSession(keys, cookie(req, ADMIN_COOKIE), now())) return next();

    const presented = typeof req.query.api_key === 'string' ? req.query.api_key : undefined;
    if (presented !== undefined && req.method === 'GET' && matches(presented)) {
      const url = new URL(req.originalUrl, 'http://admin.invalid');
      url.searchParams.delete('api_key');
      const secure = req.secure ? '; Secure' : '';
      res.set('Set-Cookie', `${ADMIN_COOKIE}=${sessionValue(presented, now())}; Path=/admin; HttpOnly; SameSite=Strict; Max-Age=${SESSION_SEC}${secure}`);
      // only ever back into /admin on this host: `/admin/..//evil.example` resolves to `//evil.example`
      const path = /^\/admin(\/|$)/.test(url.pathname) ? url.pathname + url.search : '/admin/queues';
      return res.redirect(303, path);
    }
    res.set('WWW-Authenticate', 'Bearer');
    next(new AppError(401, 'unauthorized', 'missing or invalid API key (Authorization: Bearer <key>, or open /admin/queues?api_key=<key> once in a browser)'));
  };
}
