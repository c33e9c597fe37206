import { jest, describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { createGatewayClient, MAX_RESULT_DEPTH, retryDelay, type GatewayClientOptions } from '../src/index.js';
import { TestGateway, captureLogs, failure, json, request } from './helpers.js';

const gw = new TestGateway();
beforeAll(() => gw.start());
afterAll(() => gw.stop());

function client(over: Partial<GatewayClientOptions> = {}) {
  const logs = captureLogs();
  const metrics = { observe: jest.fn(), retry: jest.fn() };
  const c = createGatewayClient({ baseUrl: gw.url, apiKey: 'k3y', timeoutMs: 5_000, retries: 2, retryBaseMs: 1, logger: logs.logger, metrics, ...over });
  return { c, logs, metrics };
}

describe('gateway client', () => {
  it('POSTs the request with auth and idempotency headers and returns the result', async () => {
    gw.reset((_q, res) => json(res, 200, { ok: true, result: { hits: [1], extra: 'x' } }));
    const { c, logs, metrics } = client();
    const req = request();
    await expect(c.execute(req)).resolves.toEqual({ hits: [1], extra: 'x' });
    expect(gw.seen).toHaveLength(1);
    const [seen] = gw.seen;
    expect(seen.headers.authorization).toBe('Bearer k3y');
    expect(seen.headers['idempotency-key']).toBe('gr_abc123:overview:0');
    expect(seen.headers['content-type']).toBe('application/json');
    expect(JSON.parse(seen.body)).toEqual(req);
    await logs.until(/gateway_ok .* attempt=1/);
    expect(metrics.observe).toHaveBeenCalledTimes(1);
    expect(metrics.observe).toHaveBeenCalledWith('kb_tool', 'search', 'ok', expect.any(Number));
  });

  it('omits Authorization when apiKey is empty', async () => {
    gw.reset((_q, res) => json(res, 200, { ok: true, result: {} }));
    await client({ apiKey: '' }).c.execute(request());
    expect(gw.seen[0].headers.authorization).toBeUndefined();
  });

  it('retries a 503 and succeeds on attempt 2', async () => {
    gw.reset((_q, res, n) => (n === 1 ? json(res, 503, { error: 'busy' }) : json(res, 200, { ok: true, result: { a: 1 } })));
    const { c, logs, metrics } = client();
    await expect(c.execute(request())).resolves.toEqual({ a: 1 });
    expect(gw.seen).toHaveLength(2);
    expect(gw.seen[1].headers['idempotency-key']).toBe(gw.seen[0].headers['idempotency-key']);
    await logs.until(/gateway_call .* attempt=2/);
    await logs.until(/gateway_ok .* attempt=2/);
    expect(metrics.retry).toHaveBeenCalledWith('kb_tool', '503');
    expect(metrics.observe).toHaveBeenCalledTimes(1);
  });

  it('honours Retry-After 0 and 1 on 429', async () => {
    gw.reset((_q, res, n) => (n <= 2 ? json(res, 429, {}, { 'retry-after': String(n - 1) }) : json(res, 200, { ok: true, result: {} })));
    await client().c.execute(request());
    expect(gw.seen).toHaveLength(3);
  });

  it('hands a Retry-After longer than maxRetryAfterMs back as gateway_throttled at once (the node parks for it)', async () => {
    gw.reset((_q, res, n) => (n === 1 ? json(res, 429, {}, { 'retry-after': '60' }) : json(res, 200, { ok: true, result: {} })));
    const { c, logs } = client({ maxRetryAfterMs: 5_000 });
    const err = await failure(c.execute(request()));
    expect(gw.seen).toHaveLength(1);
    expect(err).toMatchObject({ code: 'gateway_throttled', retryable: true, details: { status: 429, attempts: 1, retry_after_ms: 60_000 } });
    expect(err.message).toBe('gateway asked to retry kb_tool.search after 60 s (HTTP 429, attempt 1)');
    await logs.until(/gateway_tool_fail .* code=gateway_throttled status=429/);
    expect(logs.lines.join('\n')).not.toMatch(/gateway_retry/);
  });

  it('says how long the gateway asked for when its retries run out on a 429 (HTTP-date form too)', async () => {
    const at = new Date(Date.now() + 120_000).toUTCString();
    gw.reset((_q, res, n) => json(res, 429, {}, { 'retry-after': n < 3 ? '0' : at }));
    const err = await failure(client({ maxRetryAfterMs: 1_000_000 }).c.execute(request()));
    expect(gw.seen).toHaveLength(3);
    expect(err.code).toBe('gateway_throttled');
    expect((err.details as { retry_after_ms: number }).retry_after_ms).toBeGreaterThan(100_000);
  });

  it('gives up after `retries` with gateway_unavailable', async () => {
    gw.reset((_q, res) => json(res, 500, {}));
    const { c, logs, metrics } = client();
    const err = await failure(c.execute(request()));
    expect(err).toMatchObject({ code: 'gateway_unavailable', retryable: true, details: { status: 500, attempts: 3 } });
    expect(gw.seen).toHaveLength(3);
    await logs.until(/\[WARN\] gateway_tool_fail tool=kb_tool action=search node=overview run=gr_abc123 code=gateway_unavailable status=500 elapsed_ms=\d+ attempt=3/);
    expect(metrics.observe).toHaveBeenCalledTimes(1);
    expect(metrics.observe).toHaveBeenCalledWith('kb_tool', 'search', 'error', expect.any(Number));
  });

  it.each([401, 403])('fails fast on %i naming SUPERVISOR_API_KEY', async (status) => {
    gw.reset((_q, res) => json(res, status, { error: { code: 'unauthorized' } }));
    const err = await failure(client().c.execute(request()));
    expect(gw.seen).toHaveLength(1);
    expect(err).toMatchObject({ code: 'gateway_unauthorized', retryable: false, details: { status } });
    expect(err.message).toBe(`gateway rejected the supervisor credentials (HTTP ${status}): check SUPERVISOR_API_KEY matches the router`);
  });

  it('maps another 4xx to gateway_rejected without retry', async () => {
    gw.reset((_q, res) => json(res, 422, { error: { code: 'bad_params', message: 'nope' } }));
    const err = await failure(client().c.execute(request()));
    expect(gw.seen).toHaveLength(1);
    expect(err).toMatchObject({ code: 'gateway_rejected', retryable: false, details: { status: 422, code: 'bad_params' } });
  });

  it('turns ok:false into tool_failed, not retried', async () => {
    gw.reset((_q, res) => json(res, 200, { ok: false, error: { code: 'not_found', message: 'no such index' } }));
    const { c, metrics } = client();
    const err = await failure(c.execute(request()));
    expect(gw.seen).toHaveLength(1);
    expect(err).toMatchObject({ code: 'tool_failed', retryable: false, message: 'kb_tool.search failed: no such index' });
    expect(metrics.observe).toHaveBeenCalledWith('kb_tool', 'search', 'tool_fail', expect.any(Number));
  });

  it('keeps a tool error that says retryable:true retryable', async () => {
    gw.reset((_q, res) => json(res, 200, { ok: false, error: { code: 'busy', retryable: true } }));
    const err = await failure(client().c.execute(request()));
    expect(err).toMatchObject({ code: 'tool_failed', retryable: true, message: 'kb_tool.search failed: busy' });
    expect(gw.seen).toHaveLength(1);
  });

  it('keeps of a tool error only code, message and retryable, clipped: it goes into the run record', async () => {
    gw.reset((_q, res) => json(res, 200, { ok: false, error: { code: `c${'o'.repeat(200)}`, message: 'M'.repeat(3_000_000), blob: 'b'.repeat(100_000), retryable: 'yes' } }));
    const err = await failure(client().c.execute(request()));
    const kept = (err.details as { error: Record<string, string> }).error;
    expect(Object.keys(kept)).toEqual(['code', 'message']);
    expect([kept.code!.length, kept.message!.length]).toEqual([65, 501]);
    expect(err.message).toBe(`kb_tool.search failed: ${kept.message}`);
    expect(err.retryable).toBe(false);
  });

  it.each([[302, 'http://elsewhere.test/v1/tools/execute'], [307, '/v1/tools/execute'], [304, undefined]])(
    'fails a %i at once with gateway_redirect, never using its body as a result', async (status, location) => {
      gw.reset((_q, res) => json(res, status, { ok: true, result: { job_id: 'from-the-redirect' } }, location ? { location } : {}));
      const err = await failure(client().c.execute(request()));
      expect(err).toMatchObject({ code: 'gateway_redirect', retryable: false, details: { status } });
      expect(err.message).toMatch(/GATEWAY_URL must point at the router itself/);
      expect(gw.seen).toHaveLength(1);
    });

  it('takes a result nested MAX_RESULT_DEPTH levels deep, and refuses one level more as malformed_response', async () => {
    const nest = (levels: number) => { let v: unknown = 1; for (let i = 0; i < levels; i++) v = [v]; return v; };
    // the result object is the first level
    gw.reset((_q, res) => json(res, 200, { ok: true, result: { deep: nest(MAX_RESULT_DEPTH - 1) } }));
    await expect(client().c.execute(request())).resolves.toEqual({ deep: nest(MAX_RESULT_DEPTH - 1) });
    gw.reset((_q, res) => json(res, 200, { ok: true, result: { deep: nest(MAX_RESULT_DEPTH) } }));
    const err = await failure(client().c.execute(request()));
    expect(err).toMatchObject({ code: 'malformed_response', retryable: false, message: `gateway returned a result for kb_tool.search nested deeper than ${MAX_RESULT_DEPTH} levels` });
  });

  it.each([['not JSON', '<html>oops</html>'], ['not a ToolResponse', '{"ok":true}'], ['result not an object', '{"ok":true,"result":[1]}']])(
    'rejects a 2xx body that is %s as malformed_response', async (_what, body) => {
      gw.reset((_q, res) => json(res, 200, body));
      const err = await failure(client().c.execute(request()));
      expect(err).toMatchObject({ code: 'malformed_response', retryable: false });
      expect(gw.seen).toHaveLength(1);
    });

  it('times out each attempt and ends with gateway_timeout', async () => {
    gw.reset(() => {}); // never answers; stop() closes the sockets
    const err = await failure(client({ timeoutMs: 50 }).c.execute(request()));
    expect(err).toMatchObject({ code: 'gateway_timeout', retryable: true, details: { attempts: 3 } });
    expect(gw.seen).toHaveLength(3);
  });

  it('retries a refused connection and ends with gateway_unavailable', async () => {
    const s = createServer().listen(0, '127.0.0.1');
    await once(s, 'listening');
    const port = (s.address() as AddressInfo).port;
    s.close();
    await once(s, 'close');
    const { c, metrics } = client({ baseUrl: `http://127.0.0.1:${port}/` });
    const err = await failure(c.execute(request()));
    expect(err).toMatchObject({ code: 'gateway_unavailable', retryable: true, details: { code: 'ECONNREFUSED', attempts: 3 } });
    expect(metrics.retry).toHaveBeenCalledWith('kb_tool', 'ECONNREFUSED');
  });

  it('logs the expected fields and never the payload', async () => {
    const SECRET = 'S3CR3T-marker-7f1';
    const params = { query: SECRET, nested: { token: SECRET } };
    gw.reset((_q, res, n) => {
      if (n === 1) return json(res, 503, { detail: SECRET });
      if (n === 2) return json(res, 200, { ok: true, result: { answer: SECRET } });
      return json(res, 200, { ok: false, error: { code: 'denied', message: SECRET } });
    });
    const { c, logs } = client();
    await expect(c.execute(request(params))).resolves.toEqual({ answer: SECRET });
    await failure(c.execute(request(params)));
    await logs.until(/gateway_tool_fail .* code=tool_failed tool_code=denied/);
    const hash = createHash('sha256').update(JSON.stringify(params)).digest('hex').slice(0, 6);
    const size = Buffer.byteLength(gw.seen[0].body);
    const call = new RegExp(`^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ \\[INFO\\] gateway_call tool=kb_tool action=search node=overview run=gr_abc123 hash=${hash} size=${size} attempt=1`);
    expect(logs.lines.filter((l) => call.test(l))).toHaveLength(2);
    expect(logs.lines.some((l) => / gateway_call .* attempt=2/.test(l))).toBe(true);
    expect(logs.lines.some((l) => /\[INFO\] gateway_ok tool=kb_tool node=overview run=gr_abc123 elapsed_ms=\d+ attempt=2/.test(l))).toBe(true);
    expect(logs.lines.length).toBeGreaterThanOrEqual(6);
    for (const l of logs.lines) expect(l).not.toContain(SECRET);
  });
});

describe('retryDelay', () => {
  const d = retryDelay(200, 30_000);
  it('never retries when got says no, and never returns 0 when it says yes', () => {
    expect(d({ attemptCount: 1, computedValue: 0 })).toBe(0);
    expect(d({ attemptCount: 1, computedValue: 1000, retryAfter: 0 })).toBe(1);
    expect(d({ attemptCount: 1, computedValue: 1000, retryAfter: 30_000 })).toBe(30_000);
    // longer than the in-process cap: not retried here, the error hands it to the engine
    expect(d({ attemptCount: 1, computedValue: 1000, retryAfter: 30_001 })).toBe(0);
    expect(d({ attemptCount: 1, computedValue: 1000, retryAfter: Number.NaN })).toBeGreaterThan(0);
  });
  it('backs off exponentially with jitter', () => {
    for (let i = 0; i < 50; i++) {
      const v = d({ attemptCount: 3, computedValue: 1 });
      expect(v).toBeGreaterThanOrEqual(400);
      expect(v).toBeLessThanOrEqual(800);
    }
  });
});
