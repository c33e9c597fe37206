import type { ErrorRequestHandler, RequestHandler } from 'express';
import { AppError, clip } from '@sup/contracts';
import type { Logger } from '@sup/logging';
import { isRedisUnavailable, StoreError, unavailableReason } from '@sup/run-store';
import type { z } from 'zod';
import { requestIdOf } from './request-log.js';

/** 404 for a path the API does not have; 405 with `Allow` for one it has, with another method. */
export function notFound(allowed: (path: string) => string[] = () => []): RequestHandler {
  return (req, res, next) => {
    const methods = allowed(req.path);
    // a documented method that still got here: this process does not serve that route (404)
    if (methods.length === 0 || methods.includes(req.method)) return next(new AppError(404, 'not_found', `no route for ${req.method} ${req.path}`));
    res.set('Allow', methods.join(', '));
    next(new AppError(405, 'method_not_allowed', `${req.path} does not take ${req.method}; it takes ${methods.join(', ')}`, { allow: methods }));
  };
}

/** zod issues → the `details` of a 400, without echoing the rejected values back. */
export function issues(err: z.ZodError) {
  return err.issues.map((i) => ({ path: i.path.join('.'), message: i.message, code: i.code }));
}

/** Validates a body, header or query, or throws the 400 naming `what`. */
export function parse<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const res = schema.safeParse(value);
  if (!res.success) {
    const found = issues(res.error);
    // the first problems in the message too, so a client that prints only the message knows what to fix
    const said = found.slice(0, 3).map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ');
    throw new AppError(400, 'validation_failed', `${what} is invalid: ${clip(said, 500)}${found.length > 3 ? '; …' : ''}`, found);
  }
  return res.data;
}

/**
 * A query string: a parameter sent empty (`?graph=&limit=`, as clients that always send every
 * parameter do) counts as absent, not as an invalid value.
 */
export function parseQuery<T>(schema: z.ZodType<T>, query: Record<string, unknown>): T {
  return parse(schema, Object.fromEntries(Object.entries(query).filter(([, v]) => v !== '')), 'query');
}

/** Every error leaves as `{"error":{code,message,details}}`: never HTML, never a stack. */
export function errorHandler(log: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    let e: AppError;
    if (err instanceof AppError) e = err;
    else if (err instanceof StoreError && err.code === 'bad_event_id') e = new AppError(400, 'invalid_event_id', err.message);
    // an operator's hand-written record that is not JSON: say so instead of a bare 500
    else if (err instanceof StoreError && err.code === 'corrupt_record') e = new AppError(409, 'run_record_corrupt', `${err.message}; ${/events key/.test(err.message) ? 'remove that key with DEL (the record stays)' : 'fix it with SET or remove it with DEL'}`);
    else if (err?.type === 'entity.too.large') e = new AppError(413, 'payload_too_large', `request body exceeds ${err.limit} bytes`);
    else if (err?.type === 'entity.parse.failed') e = new AppError(400, 'invalid_json', 'request body is not valid JSON');
    else if (err?.type === 'encoding.unsupported' || err?.type === 'charset.unsupported') e = new AppError(415, 'unsupported_encoding', String(err.message));
    else if (typeof err?.status === 'number' && err.status >= 400 && err.status < 500) e = new AppError(err.status, 'bad_request', String(err.message ?? 'bad request'));
    // Redis down, unreachable or not taking writes now: retryable, so 503, not 500 (chaos/redis-restart.ts,
    // chaos/sentinel-failover.ts, chaos/redis-oom.ts)
    else if (isRedisUnavailable(err)) {
      const reason = unavailableReason(err);
      log.warn('redis_unavailable', { method: req.method, path: req.path, reason, error: String(err.message) });
      // out of memory lasts until an operator acts: clients need not hammer it every second
      res.set('Retry-After', reason === 'out_of_memory' ? '5' : '1');
      e = new AppError(503, 'redis_unavailable', reason === 'out_of_memory'
        ? 'the state backend (Redis) is out of memory and refuses writes; retry later'
        : 'the state backend (Redis) is unreachable or not taking writes; retry shortly', { reason });
    }
    else {
      log.error('request_error', { method: req.method, path: req.path, request_id: requestIdOf(res) ?? '-', error: err instanceof Error ? err.message : String(err) });
      e = new AppError(500, 'internal', 'internal error');
    }
    if (res.headersSent) return void res.end();
    res.status(e.status).json(e.toBody());
  };
}
