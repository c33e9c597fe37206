import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { AppError } from '@sup/contracts';

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Constant-time membership test of a presented key in API_KEYS (every key is compared). */
export function keyMatcher(keys: string[]): (candidate: string | undefined) => boolean {
  const wanted = keys.map(digest);
  return (candidate) => {
    const got = candidate === undefined ? undefined : digest(candidate);
    let ok = false;
    for (const w of wanted) if (got && timingSafeEqual(w, got)) ok = true;
    return ok;
  };
}

/**
 * `Authorization: Bearer <key>` against API_KEYS. Keys are compared as SHA-256 digests with
 * timingSafeEqual, so neither content nor length leaks through timing.
 */
export function requireApiKey(keys: string[], open: (path: string) => boolean): RequestHandler {
  const matches = keyMatcher(keys);
  return (req, res, next) => {
    if (keys.length === 0 || open(req.path)) return next();
    const m = /^Bearer\s+(.+)$/i.exec(req.get('authorization') ?? '');
    if (matches(m?.[1]!.trim())) return next();
    // RFC 6750: a 401 names the scheme it wants
    res.set('WWW-Authenticate', 'Bearer');
    next(new AppError(401, 'unauthorized', 'missing or invalid API key (Authorization: Bearer <key>)'));
  };
}
