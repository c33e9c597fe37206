import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { createGatewayClient } from '@sup/gateway-client';
import { createLogger } from '@sup/logging';
import { createWorkerMetrics, redisHealth, serveMetrics } from '../src/metrics.js';
// the Prometheus text parser the end-to-end tests use
import { sample } from '../../../e2e/src/metrics.js';
import { harness, REDIS_URL, until } from './harness.js';

const metrics = createWorkerMetrics();
const h = harness({ onStep: metrics.onStep, onFinished: metrics.onFinished });
const redis = new Redis(REDIS_URL);
let served: Server & { port: number };
let gateway: Server;
let gatewayUrl = '';
// the fake gateway answers each call with the next of these
const answers: Array<[number, unknown]> = [];

beforeAll(async () => {
  await h.start();
  await redis.ping();
  served = await serveMetrics({ port: 0, host: '127.0.0.1', registry: metrics.registry, health: redisHealth({ store: redis }) });
  gateway = createServer((req, res) => {
    req.resume().on('end', () => {
      const [status, body] = answers.shift() ?? [500, {}];
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    });
  });
  await new Promise<void>((r) => gateway.listen(0, '127.0.0.1', r));
  gatewayUrl = `http://127.0.0.1:${(gateway.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await h.close();
  await new Promise((r) => served.close(r));
  await new Promise((r) => gateway.close(r));
  if (redis.status !== 'end') redis.disconnect();
});

const scrape = async () => (await fetch(`http://127.0.0.1:${served.port}/metrics`)).text();

describe('worker metrics', () => {
  it('observes node and run durations of the runs it steps, and shows the node as job progress', async () => {
    h.resetGate();
    const { record } = await h.submit();
    await h.gate.entered();
    // node b is in flight: once it has run for a while (the progress write is deferred), the job says so
    const progress = await until('progress names node b', async () => {
      const p = (await h.queue.getJob(record.run_id))!.progress as { node?: string };
      return p?.node === 'b' ? p : undefined;
    });
    expect(progress).toEqual({ node: 'b' });
    h.gate.open();
    await until('succeeded', async () => (await h.store.get(record.run_id))?.status === 'succeeded');

    const t = await scrape();
    expect(sample(t, 'sup_node_duration_seconds_count', { graph: 'abc', node: 'a', outcome: 'advanced' })).toBe(1);
    expect(sample(t, 'sup_node_duration_seconds_count', { graph: 'abc', node: 'b', outcome: 'advanced' })).toBe(1);
    expect(sample(t, 'sup_node_duration_seconds_count', { graph: 'abc', node: 'c', outcome: 'succeeded' })).toBe(1);
    expect(sample(t, 'sup_run_duration_seconds_count', { graph: 'abc', status: 'succeeded' })).toBe(1);
    expect(sample(t, 'sup_run_duration_seconds_bucket', { graph: 'abc', status: 'succeeded', le: '+Inf' })).toBe(1);
    expect(sample(t, 'process_resident_memory_bytes')).toBeGreaterThan(0);
  });

  it('counts gateway calls, failures and retries per tool through the client it is wired into', async () => {
    const log = createLogger({ service: 'worker-test', stream: new PassThrough() });
    const client = createGatewayClient({ baseUrl: gatewayUrl, apiKey: 'k', timeoutMs: 5_000, retries: 2, retryBaseMs: 1, logger: log, metrics: metrics.gateway });
    const req = (action: string) => ({ tool: 'kb_tool', action, params: {}, context: { agent_id: 'a', run_id: 'gr_x', node: 'n', idempotency_key: `k-${action}` } });
    answers.push([503, {}], [200, { ok: true, result: { hits: [] } }]);
    await client.execute(req('search'));
    answers.push([200, { ok: false, error: { code: 'bad_query', message: 'no' } }]);
    await expect(client.execute(req('search'))).rejects.toMatchObject({ code: 'tool_failed' });

    const t = await scrape();
    expect(sample(t, 'sup_gateway_calls_total', { tool: 'kb_tool', action: 'search', outcome: 'ok' })).toBe(1);
    expect(sample(t, 'sup_gateway_calls_total', { tool: 'kb_tool', action: 'search', outcome: 'tool_fail' })).toBe(1);
    expect(sample(t, 'sup_gateway_retries_total', { tool: 'kb_tool', reason: '503' })).toBe(1);
    expect(sample(t, 'sup_gateway_call_duration_seconds_count', { tool: 'kb_tool', action: 'search' })).toBe(2);
  });

  it('counts the runs housekeeping repaired, by kind', async () => {
    metrics.onHousekeeping({ orphans: 1, requeued: 2, kept: 0 });
    metrics.onHousekeeping({ orphans: 0, requeued: 1, kept: 5 });
    const t = await scrape();
    expect(sample(t, 'sup_housekeeping_repairs_total', { kind: 'job_restored' })).toBe(3);
    expect(sample(t, 'sup_housekeeping_repairs_total', { kind: 'orphan_failed' })).toBe(1);
    expect(sample(t, 'sup_housekeeping_repairs_total', { kind: 'kept_alive' })).toBe(5);
  });

  it('says healthy while its Redis connection is ready, and 503 when it is not', async () => {
    const ok = await fetch(`http://127.0.0.1:${served.port}/healthz`);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ status: 'ok', service: 'worker' });
    const missing = await fetch(`http://127.0.0.1:${served.port}/nope`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe('not_found');

    redis.disconnect();
    await until('connection ended', async () => redis.status === 'end');
    const bad = await fetch(`http://127.0.0.1:${served.port}/healthz`);
    expect(bad.status).toBe(503);
    expect(await bad.json()).toMatchObject({ status: 'degraded', reason: 'redis connection store is end' });
  });
});
