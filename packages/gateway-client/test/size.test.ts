import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { once } from 'node:events';
import { gzipSync } from 'node:zlib';
import { createGatewayClient } from '../src/index.js';
import { TestGateway, captureLogs, failure, json, request } from './helpers.js';

const LIMIT = 64 * 1024;
const gw = new TestGateway();
beforeAll(() => gw.start());
afterAll(() => gw.stop());

function client() {
  const logs = captureLogs();
  const c = createGatewayClient({ baseUrl: gw.url, apiKey: 'k', timeoutMs: 5_000, retries: 2, retryBaseMs: 1, logger: logs.logger, maxResponseBytes: LIMIT });
  return { c, logs };
}
const answer = (bytes: number) => {
  const head = '{"ok":true,"result":{"blob":"';
  const tail = '"}}';
  return head + 'x'.repeat(bytes - head.length - tail.length) + tail;
};

describe('gateway client: response size limit', () => {
  it('reads an answer of exactly the limit', async () => {
    gw.reset((_q, res) => json(res, 200, answer(LIMIT)));
    const r = await client().c.execute(request());
    expect((r.blob as string).length).toBe(LIMIT - 32);
  });

  it('refuses a larger answer by its Content-Length, without a retry, and logs no payload', async () => {
    const body = answer(LIMIT + 1);
    gw.reset((_q, res) => json(res, 200, body));
    const { c, logs } = client();
    const err = await failure(c.execute(request()));
    expect(err).toMatchObject({ code: 'response_too_large', retryable: false, details: { limit_bytes: LIMIT, bytes: LIMIT + 1, attempts: 1 } });
    expect(err.message).toBe(`gateway answered kb_tool.search with more than ${LIMIT} bytes (${LIMIT + 1} seen); the body was dropped`);
    expect(gw.seen).toHaveLength(1);
    await logs.until(/\[WARN\] gateway_tool_fail tool=kb_tool action=search .* code=response_too_large/);
    for (const l of logs.lines) expect(l).not.toContain('xxxx');
  });

  it('stops reading an endless chunked answer (no Content-Length) once the limit is passed', async () => {
    let closed: Promise<unknown> = Promise.resolve();
    gw.reset((_q, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"ok":true,"result":{"blob":"');
      const chunk = 'y'.repeat(16 * 1024);
      closed = once(res, 'close');
      const pump = () => { while (!res.destroyed && res.write(chunk)); if (!res.destroyed) res.once('drain', pump); };
      pump();
    });
    const err = await failure(client().c.execute(request()));
    expect(err.code).toBe('response_too_large');
    expect((err.details as { bytes: number }).bytes).toBeGreaterThan(LIMIT);
    await closed; // the client hung up: the server's endless stream ended
    expect(gw.seen).toHaveLength(1);
  });

  it('an error status with a body past the limit (a proxy\'s error page) is that status: 503 stays retryable, 401 names the key', async () => {
    const page = '<html>' + 'p'.repeat(LIMIT * 2) + '</html>';
    gw.reset((_q, res) => { res.writeHead(503, { 'content-type': 'text/html' }); res.end(page); });
    const busy = await failure(client().c.execute(request()));
    expect(busy).toMatchObject({ code: 'gateway_unavailable', retryable: true, details: { status: 503, attempts: 1 } });
    gw.reset((_q, res) => { res.writeHead(401, { 'content-type': 'text/html' }); res.end(page); });
    expect(await failure(client().c.execute(request()))).toMatchObject({ code: 'gateway_unauthorized', retryable: false });
  });

  it('counts the body after decompression (a small gzip that inflates past the limit)', async () => {
    const zipped = gzipSync(answer(LIMIT * 4));
    expect(zipped.length).toBeLessThan(LIMIT);
    gw.reset((_q, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip', 'content-length': String(zipped.length) });
      res.end(zipped);
    });
    const err = await failure(client().c.execute(request()));
    expect(err.code).toBe('response_too_large');
  });
});
