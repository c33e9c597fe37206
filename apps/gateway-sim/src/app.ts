import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import type { Logger } from '@sup/logging';
import type { SimConfig } from './config.js';
import { controlRouter } from './control.js';
import { executeHandler, recordInvalid } from './execute.js';
import { errorBody } from './faults.js';
import { SimState } from './state.js';

export interface SimOptions {
  /** When set, `/v1/*` needs `Authorization: Bearer <apiKey>` (401 otherwise). `/healthz` and `/_sim/*` stay open. */
  apiKey?: string | null;
  /** Seed of the fault PRNG (same seed + same call sequence = same faults). */
  seed?: string | number;
  /** Initial config (also what `POST /_sim/reset` returns to). */
  config?: Partial<SimConfig>;
  /** Clock in ms for job progress and timestamps; tests inject their own. */
  now?: () => number;
  log?: Logger;
  /** JSON body limit of the execute endpoint. */
  bodyLimit?: string;
  /** Idempotency keys remembered (MAX_REMEMBERED_KEYS); tests make it small. */
  maxKeys?: number;
}

export const SERVICE = 'gateway-sim';

/** The development tool gateway: a test double of the router, not a real one. */
export function createSimApp(opts: SimOptions = {}): { app: Express; state: SimState } {
  const state = SimState.create(opts);
  const app: Express = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use((_req, res, next) => {
    res.set('X-Test-Double', 'gateway-sim');
    next();
  });

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok', service: SERVICE, test_double: true });
  });

  app.post('/v1/tools/execute', express.json({ limit: opts.bodyLimit ?? '5mb' }), executeHandler(state, opts.apiKey || null, opts.log));

  app.use('/_sim', express.json({ limit: '1mb' }), controlRouter(state));

  app.use((req, res) => {
    res.status(404).json(errorBody('not_found', `no route ${req.method} ${req.path}`));
  });

  // JSON parse errors, oversized bodies, anything thrown: always JSON, never a stack.
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const e = err as { status?: number; statusCode?: number; type?: string; message?: string };
    const status = e.status ?? e.statusCode ?? 500;
    const code = e.type === 'entity.parse.failed' ? 'bad_request' : e.type === 'entity.too.large' ? 'payload_too_large' : status < 500 ? 'bad_request' : 'internal_error';
    if (status >= 500) opts.log?.error('sim_error', { path: req.path, error: e.message });
    if (req.method === 'POST' && req.path === '/v1/tools/execute') recordInvalid(state, undefined, status, status < 500 ? 'bad_request' : 'server_error');
    if (res.headersSent) return;
    res.status(status).json(errorBody(code, status < 500 ? (e.message ?? 'bad request') : 'internal error'));
  });

  return { app, state };
}
