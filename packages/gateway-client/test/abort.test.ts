import { jest, describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { once } from 'node:events';
import { ToolError } from '@sup/contracts';
import { createGatewayClient } from '../src/index.js';
import { TestGateway, captureLogs, json, request } from './helpers.js';

// No sleeps and no wall-clock thresholds: the per-attempt timeout and the Retry-After wait are an
// hour, so the only way these promises settle inside Jest's timeout is the abort itself.
const HOUR = 3_600_000;
const gw = new TestGateway();
beforeAll(() => gw.start());
afterAll(() => gw.stop());

function client() {
  const logs = captureLogs();
  const metrics = { observe: jest.fn(), retry: jest.fn() };
  const c = createGatewayClient({ baseUrl: gw.url, apiKey: 'k', timeoutMs: HOUR, retries: 3, maxRetryAfterMs: HOUR, logger: logs.logger, metrics });
  return { c, logs, metrics };
}

describe('abort', () => {
  it('closes the in-flight request before the server answers and rejects with aborted', async () => {
    const closed = new Promise<boolean>((resolve) => gw.reset((_q, res) => {
      res.once('close', () => resolve(res.writableEnded));
      gw.emit('arrived');
    }));
    const arrived = once(gw, 'arrived');
    const ac = new AbortController();
    const { c, logs, metrics } = client();
    const p = c.execute(request(), { signal: ac.signal });
    const settled = p.catch((e: unknown) => e);
    await arrived;
    const reason = new Error('run cancelled');
    ac.abort(reason);
    expect(await closed).toBe(false); // connection dropped, server never wrote a response
    const err = await settled;
    expect(err).toBeInstanceOf(ToolError);
    expect(err).toMatchObject({ code: 'aborted', message: 'tool call aborted', retryable: false });
    expect((err as ToolError).cause).toBe(reason);
    expect(gw.seen).toHaveLength(1);
    await logs.until(/gateway_tool_fail .* code=aborted/);
    expect(metrics.observe).toHaveBeenCalledTimes(1);
  });

  it('stops a retry backoff wait at once', async () => {
    gw.reset((_q, res) => json(res, 503, {}, { 'retry-after': String(HOUR / 1000) }));
    const ac = new AbortController();
    const { c, logs, metrics } = client();
    const p = c.execute(request(), { signal: ac.signal }).catch((e: unknown) => e);
    await logs.until(/gateway_retry .* reason=503 delay_ms=3600000/);
    ac.abort();
    expect(await p).toMatchObject({ code: 'aborted' });
    expect(gw.seen).toHaveLength(1);
    expect(metrics.retry).not.toHaveBeenCalled();
  });

  it('does not call the gateway when the signal is already aborted', async () => {
    gw.reset((_q, res) => json(res, 200, { ok: true, result: {} }));
    const { c } = client();
    await expect(c.execute(request(), { signal: AbortSignal.abort() })).rejects.toMatchObject({ code: 'aborted' });
    expect(gw.seen).toHaveLength(0);
  });
});
