import { randomUUID } from 'node:crypto';
import type { RequestHandler } from 'express';
import type { Logger } from '@sup/logging';

const ID_RE = /^[A-Za-z0-9._:-]{1,128}$/;

/** The request id of a request: the caller's `X-Request-Id` when it is sane, else a new one. */
export function requestIdOf(res: { locals: Record<string, unknown> }): string | undefined {
  return res.locals.requestId as string | undefined;
}

/**
 * Gives every request an id (echoed as `X-Request-Id`) and logs one `http_request` line when it
 * ends: method, path (never the query string: it may carry an admin key), status, elapsed, id.
 * Bodies are never logged.
 */
export function requestLog(log: Logger): RequestHandler {
  return (req, res, next) => {
    const given = req.get('x-request-id');
    const id = given && ID_RE.test(given) ? given : randomUUID();
    res.locals.requestId = id;
    res.set('X-Request-Id', id);
    const started = process.hrtime.bigint();
    // read now: a router mounted on a prefix (bull-board at /admin/queues) strips it from req.path
    const path = req.path;
    res.on('finish', () => {
      const elapsed = Number((process.hrtime.bigint() - started) / 1_000_000n);
      const meta = { method: req.method, path: path.slice(0, 200), status: res.statusCode, elapsed_ms: elapsed, request_id: id };
      // health probes and scrapes would drown the log at info
      if (path === '/healthz' || path === '/metrics') log.debug('http_request', meta);
      else log.info('http_request', meta);
    });
    next();
  };
}
