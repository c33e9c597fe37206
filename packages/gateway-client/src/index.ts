import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import got, { HTTPError, RequestError, TimeoutError, type RetryObject } from 'got';
import { clip, nestsDeeperThan, ToolError, ToolResponse, type ToolRequest } from '@sup/contracts';
import type { Logger } from '@sup/logging';

export interface GatewayMetrics {
  observe(tool: string, action: string, outcome: 'ok' | 'tool_fail' | 'error', ms: number): void;
  retry?(tool: string, reason: string): void;
}
export interface GatewayClientOptions {
  baseUrl: string;
  apiKey: string;
  /** Per attempt (got `timeout.request`), not for the whole call. */
  timeoutMs: number;
  /** Retries after the first attempt (got `retry.limit`). */
  retries: number;
  logger: Logger;
  metrics?: GatewayMetrics;
  /** First backoff; doubles per retry, "equal jitter" (half fixed, half random). Default 200. */
  retryBaseMs?: number;
  /**
   * Longest Retry-After waited for in-process (the backoff is clamped to it too). Default 5000. A
   * longer one ends the call at once with a retryable `gateway_throttled` error whose
   * `details.retry_after_ms` says how long the gateway asked for: the engine parks the node that
   * long (slot freed) instead of holding a worker slot — and the node's timeout — while it waits.
   */
  maxRetryAfterMs?: number;
  /**
   * Largest response body read, in bytes after decompression (default 4 MiB). A larger one (by its
   * Content-Length, or once that many bytes arrived) is dropped unread and the call fails with a
   * non-retryable `response_too_large`: a tool's answer becomes part of the run record, and one
   * runaway answer would otherwise be buffered whole by the worker and then written to Redis.
   */
  maxResponseBytes?: number;
}
export interface GatewayClient {
  /**
   * Resolves with the tool's `result`; rejects with a ToolError only. On abort (the caller's signal)
   * the HTTP request or retry wait is dropped at once and it rejects with
   * `ToolError('aborted', 'tool call aborted', false)`; `signal.reason` is kept as the error's `cause`.
   */
  execute(req: ToolRequest, opts?: { signal?: AbortSignal }): Promise<Record<string, unknown>>;
}

const RETRY_STATUS = [429, 500, 502, 503, 504];

/**
 * Stops reading a got response once its body passes `maxBytes` — by its Content-Length (`total`,
 * known before the first byte) or by the bytes that arrived — and cancels the request, which then
 * rejects (with `response` set when the status line had arrived). Returns how many bytes had been
 * announced or received when it cut, or undefined while it has not.
 */
export function capBody(pending: { on(event: 'downloadProgress', f: (p: { transferred: number; total?: number }) => void): unknown; cancel(): void }, maxBytes: number): () => number | undefined {
  let cutAt: number | undefined;
  pending.on('downloadProgress', ({ transferred, total }) => {
    const bytes = Math.max(transferred, total ?? 0);
    if (bytes > maxBytes && cutAt === undefined) {
      cutAt = bytes;
      pending.cancel();
    }
  });
  return () => cutAt;
}
export const DEFAULT_MAX_RESPONSE_BYTES = 4 * 1024 * 1024;

/**
 * got's `calculateDelay`. got passes `computedValue === 0` when its own rules (limit, method, status
 * codes, error codes) forbid a retry; a delay of 0 means "do not retry", so every retry waits ≥ 1 ms.
 */
export function retryDelay(baseMs: number, capMs: number) {
  return ({ attemptCount, retryAfter, computedValue }: Pick<RetryObject, 'attemptCount' | 'retryAfter' | 'computedValue'>): number => {
    if (computedValue === 0) return 0;
    if (retryAfter !== undefined && Number.isFinite(retryAfter)) return retryAfter > capMs ? 0 : Math.max(1, retryAfter);
    const exp = Math.min(baseMs * 2 ** (attemptCount - 1), capMs);
    return Math.max(1, Math.round(exp / 2 + (Math.random() * exp) / 2));
  };
}

const reasonOf = (err: RequestError) => (err instanceof HTTPError ? String(err.response.statusCode) : err.code);

function bodyCode(body: unknown): string | undefined {
  try {
    const code = (JSON.parse(String(body)) as { error?: { code?: unknown } })?.error?.code;
    return typeof code === 'string' ? code.slice(0, 64) : undefined;
  } catch {
    return undefined;
  }
}

/** A Retry-After header (seconds or an HTTP date) in ms, or undefined. */
export function retryAfterMs(header: string | string[] | undefined, now = Date.now()): number | undefined {
  const v = Array.isArray(header) ? header[0] : header;
  if (v === undefined || v.trim() === '') return undefined;
  const ms = /^\s*\d+\s*$/.test(v) ? Number(v) * 1000 : Date.parse(v) - now;
  return Number.isFinite(ms) ? Math.max(0, ms) : undefined;
}

const is2xx = (status: number) => status >= 200 && status <= 299;

interface ErrorResponse { statusCode: number; headers: Record<string, string | string[] | undefined>; body?: unknown }

/** A non-2xx answer → ToolError. Never copies a response body into it. */
function fromStatus(res: ErrorResponse, name: string, attempts: number): ToolError {
  const status = res.statusCode;
  if (status === 401 || status === 403) {
    return new ToolError('gateway_unauthorized', `gateway rejected the supervisor credentials (HTTP ${status}): check SUPERVISOR_API_KEY matches the router`, false, { status });
  }
  const after = status === 429 || status === 503 ? retryAfterMs(res.headers['retry-after']) : undefined;
  if (after !== undefined) {
    // not waited for here (too long, or no retries left): the node parks for it
    return new ToolError('gateway_throttled', `gateway asked to retry ${name} after ${Math.ceil(after / 1000)} s (HTTP ${status}, attempt ${attempts})`, true, { status, attempts, retry_after_ms: after });
  }
  if (status === 429 || status >= 500) {
    return new ToolError('gateway_unavailable', `gateway answered HTTP ${status} to ${name} after ${attempts} attempt(s)`, true, { status, attempts });
  }
  if (status >= 300 && status < 400) {
    const why = status === 304 ? 'HTTP 304, an answer to a conditional request the client never made' : `a redirect (HTTP ${status}), which is not followed`;
    return new ToolError('gateway_redirect', `gateway answered ${name} with ${why}: GATEWAY_URL must point at the router itself`, false, { status });
  }
  const code = bodyCode(res.body);
  return new ToolError('gateway_rejected', `gateway rejected ${name} (HTTP ${status}${code ? ` ${code}` : ''})`, false, { status, ...(code ? { code } : {}) });
}

/** A got failure (retries already spent) → ToolError. Never copies a response body into it. */
function fromGot(err: unknown, name: string, attempts: number, timeoutMs: number): ToolError {
  if (err instanceof HTTPError) return fromStatus(err.response, name, attempts);
  if (err instanceof TimeoutError) {
    return new ToolError('gateway_timeout', `${name}: no gateway answer within ${timeoutMs} ms, ${attempts} attempt(s)`, true, { attempts, timeout_ms: timeoutMs });
  }
  if (err instanceof RequestError) {
    return new ToolError('gateway_unavailable', `gateway unreachable for ${name} (${err.code}) after ${attempts} attempt(s)`, true, { code: err.code, attempts });
  }
  return new ToolError('gateway_error', `${name}: ${err instanceof Error ? err.message : String(err)}`, false);
}

/** A 2xx body → the result, or the ToolError it stands for. */
function fromBody(text: string, name: string): Record<string, unknown> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ToolError('malformed_response', `gateway returned a body that is not JSON for ${name}`, false);
  }
  const parsed = ToolResponse.safeParse(json);
  if (!parsed.success) throw new ToolError('malformed_response', `gateway returned a body that is not a ToolResponse for ${name}`, false);
  if (parsed.data.ok) {
    if (nestsDeeperThan(parsed.data.result, MAX_RESULT_DEPTH)) {
      throw new ToolError('malformed_response', `gateway returned a result for ${name} nested deeper than ${MAX_RESULT_DEPTH} levels`, false);
    }
    return parsed.data.result;
  }
  // the tool's own words go into the run record: bounded, and only the fields that mean something
  const { code, message, retryable } = parsed.data.error;
  const error = { ...(code !== undefined ? { code: clip(code, 64) } : {}), ...(message !== undefined ? { message: clip(message, 500) } : {}), ...(retryable === true ? { retryable } : {}) };
  throw new ToolError('tool_failed', `${name} failed: ${error.message ?? error.code ?? 'unknown error'}`, retryable === true, { error });
}

/** Deeper tool results are refused: nothing a tool returns is that deep, and storing it would overflow the stack. */
export const MAX_RESULT_DEPTH = 64;

function aborted(signal: AbortSignal): ToolError {
  const err = new ToolError('aborted', 'tool call aborted', false);
  err.cause = signal.reason;
  return err;
}

export function createGatewayClient(opts: GatewayClientOptions): GatewayClient {
  const { apiKey, timeoutMs, logger: log, metrics } = opts;
  const url = new URL('v1/tools/execute', opts.baseUrl.endsWith('/') ? opts.baseUrl : `${opts.baseUrl}/`);
  const delay = retryDelay(opts.retryBaseMs ?? 200, opts.maxRetryAfterMs ?? 5_000);
  const maxBytes = opts.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  const http = got.extend({
    timeout: { request: timeoutMs },
    followRedirect: false,
    responseType: 'text',
    retry: {
      limit: Math.max(0, opts.retries),
      methods: ['POST'],
      statusCodes: RETRY_STATUS,
      maxRetryAfter: Number.POSITIVE_INFINITY, // the cap is ours (retryDelay), so the error can say how long
    },
    headers: { accept: 'application/json', 'content-type': 'application/json', ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}) },
  });

  return {
    async execute(req, { signal } = {}) {
      const { tool, action } = req;
      const { node, run_id: run } = req.context;
      const name = `${tool}.${action}`;
      const started = performance.now();
      const elapsed = () => Math.round(performance.now() - started);
      const body = JSON.stringify(req);
      const hash = createHash('sha256').update(JSON.stringify(req.params)).digest('hex').slice(0, 6);
      const size = Buffer.byteLength(body);
      let attempt = 0;
      try {
        if (signal?.aborted) throw aborted(signal);
        let text: string;
        // bytes announced or received when the body was dropped (capBody), undefined while it was not
        let oversize: () => number | undefined = () => undefined;
        try {
          const pending = http.post(url, {
            body,
            signal,
            headers: { 'idempotency-key': req.context.idempotency_key },
            retry: {
              // The wait happens here, abortable, and got then waits 1 ms: got's own backoff timer is
              // started a microtask after this returns, so an abort in that gap would leave it running.
              calculateDelay: async (r) => {
                const ms = delay(r);
                if (ms === 0) return 0;
                log.info('gateway_retry', { tool, action, node, run, attempt: r.attemptCount, reason: reasonOf(r.error), delay_ms: ms });
                try {
                  await sleep(ms - 1, undefined, { signal });
                  return 1;
                } catch {
                  return 0; // aborted: got already destroyed the request and rejected the promise
                }
              },
            },
            hooks: {
              beforeRequest: [(_o, { retryCount }) => {
                attempt = retryCount + 1;
                log.info('gateway_call', { tool, action, node, run, hash, size, attempt });
              }],
              beforeRetry: [(err) => metrics?.retry?.(tool, reasonOf(err))],
            },
          });
          oversize = capBody(pending, maxBytes);
          const res = await pending;
          // with redirects not followed, got hands a 3xx over as a success: it is not an answer
          if (!is2xx(res.statusCode)) throw fromStatus({ statusCode: res.statusCode, headers: res.headers }, name, attempt);
          text = res.body;
        } catch (err) {
          if (err instanceof ToolError) throw err;
          if (signal?.aborted) throw aborted(signal);
          if (oversize() !== undefined) {
            // an error status with a big body (a proxy's error page) is that status, not a result
            const res = (err as RequestError).response;
            if (res && !is2xx(res.statusCode)) throw fromStatus({ statusCode: res.statusCode, headers: res.headers }, name, attempt);
            throw new ToolError('response_too_large', `gateway answered ${name} with more than ${maxBytes} bytes (${oversize()} seen); the body was dropped`, false, { limit_bytes: maxBytes, bytes: oversize(), attempts: attempt });
          }
          throw fromGot(err, name, attempt, timeoutMs);
        }
        const result = fromBody(text, name);
        const ms = elapsed();
        log.info('gateway_ok', { tool, node, run, elapsed_ms: ms, attempt });
        metrics?.observe(tool, action, 'ok', ms);
        return result;
      } catch (e) {
        const err = e instanceof ToolError ? e : new ToolError('gateway_error', `${name}: ${String(e)}`, false);
        const ms = elapsed();
        const d = (err.details ?? {}) as { status?: number; error?: { code?: unknown } };
        const toolCode = typeof d.error?.code === 'string' ? { tool_code: d.error.code.slice(0, 64) } : {};
        log.warn('gateway_tool_fail', { tool, action, node, run, code: err.code, ...(d.status ? { status: d.status } : {}), ...toolCode, elapsed_ms: ms, attempt });
        metrics?.observe(tool, action, err.code === 'tool_failed' ? 'tool_fail' : 'error', ms);
        throw err;
      }
    },
  };
}
