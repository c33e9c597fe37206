import type { SimConfig } from './config.js';
import type { Prng } from './rand.js';

export type Fault =
  | { kind: 'none' }
  | { kind: 'timeout' }
  | { kind: 'rate_limited'; status: 429; retryAfterSec: number }
  | { kind: 'server_error'; status: 500 | 502 | 503 };

const SERVER_ERRORS = [500, 502, 503] as const;

/**
 * Decides the injected fault of one call. Exactly four numbers are drawn per call whatever the
 * config, so the same seed and the same sequence of calls give the same faults.
 * Precedence: timeout, then 429, then 5xx.
 */
export function decideFault(cfg: SimConfig, rng: Prng): Fault {
  const rTimeout = rng.next();
  const r429 = rng.next();
  const r5xx = rng.next();
  const rCode = rng.next();
  if (rTimeout < cfg.timeoutRate) return { kind: 'timeout' };
  if (r429 < cfg.rate429) return { kind: 'rate_limited', status: 429, retryAfterSec: cfg.retryAfterSec };
  if (r5xx < cfg.fail5xxRate) return { kind: 'server_error', status: SERVER_ERRORS[Math.floor(rCode * SERVER_ERRORS.length)]! };
  return { kind: 'none' };
}

export function errorBody(code: string, message: string, details?: unknown) {
  return { ok: false as const, error: details === undefined ? { code, message } : { code, message, details } };
}

const FORCED_CODES: Record<number, string> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  408: 'request_timeout',
  409: 'conflict',
  429: 'rate_limited',
  500: 'internal_error',
  502: 'bad_gateway',
  503: 'unavailable',
  504: 'gateway_timeout',
};

/** Body sent for `forceStatus`; named after the status so a client's error reads naturally. */
export function forcedBody(status: number) {
  const code = FORCED_CODES[status] ?? (status >= 500 ? 'server_error' : 'client_error'); // 400..599 only (validated)
  return errorBody(code, `gateway-sim: forced HTTP ${status} (forceStatus / SIM_FORCE_STATUS)`);
}

export function injectedBody(f: Exclude<Fault, { kind: 'none' } | { kind: 'timeout' }>) {
  return f.kind === 'rate_limited'
    ? errorBody('rate_limited', `gateway-sim: injected 429, retry after ${f.retryAfterSec}s`)
    : errorBody('unavailable', `gateway-sim: injected HTTP ${f.status}`);
}

/**
 * Resolves `true` after `ms`, or `false` as soon as `signal` aborts. `ms` = Infinity waits for
 * the signal only. The timer is unref'd so a forgotten wait never keeps a process alive.
 */
export function wait(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  if (ms <= 0) return Promise.resolve(true);
  return new Promise((resolve) => {
    const onAbort = () => {
      if (timer) clearTimeout(timer);
      resolve(false);
    };
    const timer = Number.isFinite(ms)
      ? setTimeout(() => {
          signal.removeEventListener('abort', onAbort);
          resolve(true);
        }, ms).unref()
      : undefined;
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
