import { createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { Worker } from 'bullmq';
import { Redis, ReplyError } from 'ioredis';
import { event, QUEUES, type RunRecord } from '@sup/contracts';
import { bullPrefix, CancelService, createWebhookQueue, enqueueWebhook, newRunRecord, submitRun, webhookJobOptions, type WebhookRetry } from '@sup/queue';
import type { RunStore } from '@sup/run-store';
import { createWebhookProcessor } from '../src/webhooks.js';
import { capturedLog, harness, REDIS_URL, until } from './harness.js';

const SECRET = 'whsec-test';
const fastRetry: WebhookRetry = { attempts: 5, delayMs: 20 };
const { log, logs } = capturedLog();

/** As main.ts wires it: after every final commit the run job awaits queueing the run's webhook. */
let afterFinish: (rec: RunRecord) => Promise<void> = async () => undefined;
const h = harness({ afterFinish: (rec) => afterFinish(rec), redisRetryMs: 50 });
const bull = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
const webhooks = createWebhookQueue(bull, h.prefix);
const queueWebhook = async (rec: RunRecord) => void (await enqueueWebhook(webhooks, rec, 600, fastRetry));
afterFinish = queueWebhook;

/** A local webhook receiver on port 0: records each request's raw body, answers `status()`. */
interface Received { headers: IncomingHttpHeaders; raw: string }
let received: Received[] = [];
let status: (n: number) => number = () => 200;
/** When set, the receiver answers with a body that never ends (until the client hangs up). */
let endless = false;
/** Awaited before the n-th request is answered. */
let beforeAnswer: (n: number) => unknown = () => undefined;
/** Requests for which this says true are never answered (a receiver that hangs); `held` has them. */
let hold: (n: number) => boolean = () => false;
let held: ServerResponse[] = [];
const receiver: Server = createServer((req, res) => {
  let raw = '';
  req.setEncoding('utf8');
  req.on('data', (c: string) => (raw += c));
  req.on('end', async () => {
    received.push({ headers: req.headers, raw });
    const n = received.length;
    await beforeAnswer(n);
    if (hold(n)) return void held.push(res);
    res.writeHead(status(n));
    if (!endless) return void res.end();
    const chunk = 'z'.repeat(16 * 1024);
    const pump = () => { while (!res.destroyed && res.write(chunk)); if (!res.destroyed) res.once('drain', pump); };
    pump();
  });
});
let hookUrl = '';

let deliverer: Worker | undefined;
async function startDeliverer(secret = SECRET, store: RunStore = h.store, allowedHosts: string[] = [], denyPrivate = false): Promise<void> {
  deliverer = new Worker(QUEUES.webhooks, createWebhookProcessor({ store, log, secret, timeoutMs: 2_000, allowedHosts, denyPrivate, now: Date.now }), {
    connection: bull, prefix: bullPrefix(h.prefix), concurrency: 1,
  });
  await deliverer.waitUntilReady();
}

beforeAll(async () => {
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks/run?token=t0ps3cret`;
  await h.start();
});
afterEach(async () => {
  await deliverer?.close();
  deliverer = undefined;
  received = [];
  status = () => 200;
  endless = false;
  beforeAnswer = () => undefined;
  hold = () => false;
  held.forEach((res) => res.destroy());
  held = [];
});
afterAll(async () => {
  await h.close();
  await webhooks.obliterate({ force: true }).catch(() => undefined);
  await webhooks.close();
  await bull.quit();
  await new Promise((r) => receiver.close(r));
});

/** The delivery job once it has ended, read after: a read before the state check could be the active job (no return value yet). */
const ended = async (id: string) => {
  await until(`job ${id} to end`, async () => ['completed', 'failed'].includes(await webhooks.getJobState(id)));
  return (await webhooks.getJob(id))!;
};
const eventsOf = async (id: string, type: string) => (await h.store.events(id)).filter((e) => e.type === type);
const expectedSignature = (ts: string, raw: string) => `sha256=${createHmac('sha256', SECRET).update(`${ts}.${raw}`).digest('hex')}`;

/** A run that finished already, with a webhook, and its delivery job. */
async function finishedRun(status: RunRecord['status'] = 'failed', webhook = hookUrl): Promise<RunRecord> {
  const rec = { ...newRunRecord({ graph: 'abc', agentId: 'sofiia', input: {}, webhook }), status, finished_at: new Date().toISOString(), error: { code: 'x', message: 'boom' } };
  await h.store.create(rec, { events: [event('run_created'), event(`run_${status}` as 'run_failed')] });
  await enqueueWebhook(webhooks, rec, 600, fastRetry);
  return rec;
}

describe('run webhooks', () => {
  it('retries 10 times by default, over about 8.5 minutes of backoff: a receiver restarting meanwhile still gets it', () => {
    const o = webhookJobOptions('gr_x', 600);
    expect([o.jobId, o.attempts, o.backoff]).toEqual(['gr_x-webhook', 10, { type: 'exponential', delay: 1_000 }]);
    // BullMQ waits delay × 2^(n-1) before attempt n+1
    const waits = Array.from({ length: o.attempts! - 1 }, (_, n) => 1_000 * 2 ** n);
    expect(waits.reduce((a, b) => a + b, 0)).toBe(511_000);
  });

  it('POSTs one signed webhook when a run finishes through the worker, and records the delivery', async () => {
    await startDeliverer();
    const { record } = await submitRun({ store: h.store, queue: h.queue, ttlSec: 600 }, { graph: 'abc', agentId: 'sofiia', input: {}, webhook: hookUrl });
    await h.gate.entered();
    h.gate.open();
    const [delivered] = await until('webhook_delivered', async () => (await eventsOf(record.run_id, 'webhook_delivered')).length > 0 && eventsOf(record.run_id, 'webhook_delivered'));

    expect(received).toHaveLength(1);
    const { headers, raw } = received[0]!;
    const rec = (await h.store.get(record.run_id))!;
    expect(rec.status).toBe('succeeded');
    expect(JSON.parse(raw)).toEqual({ run_id: record.run_id, graph: 'abc', status: 'succeeded', result: rec.result, error: null, finished_at: rec.finished_at, cancel_reason: null });
    expect(headers['content-type']).toBe('application/json');
    expect(headers['x-supervisor-timestamp']).toMatch(/^\d{10}$/);
    expect(headers['x-supervisor-signature']).toBe(expectedSignature(headers['x-supervisor-timestamp'] as string, raw));
    expect(headers['x-supervisor-delivery']).toBe(`${record.run_id}-webhook`);
    expect(delivered!.data).toEqual({ status_code: 200, attempts: 1 });
    // the record is kept as the finishing commit wrote it; only the event was appended
    expect(rec.updated_at).toBe(rec.finished_at);
    expect(logs.join('')).not.toContain('t0ps3cret');

    // a second "finished" notice for the same run (another process, a re-run job) queues nothing new;
    // a later run's delivery, behind it in the same FIFO queue, proves none went out
    await enqueueWebhook(webhooks, rec, 600, fastRetry);
    const later = await finishedRun();
    await until('the later webhook', async () => (await eventsOf(later.run_id, 'webhook_delivered')).length > 0);
    expect(received.map((r) => JSON.parse(r.raw).run_id)).toEqual([record.run_id, later.run_id]);
  });

  it('a webhook enqueue that Redis refuses after the final commit: the job is retried later, and the retry queues it', async () => {
    await startDeliverer();
    let tries = 0;
    afterFinish = async (rec) => {
      if (++tries === 1) throw new Error('Connection is closed.'); // Redis gone right after the commit
      return queueWebhook(rec);
    };
    try {
      h.resetGate();
      const { record } = await submitRun({ store: h.store, queue: h.queue, ttlSec: 600 }, { graph: 'abc', agentId: 'sofiia', input: {}, webhook: hookUrl });
      await h.gate.entered();
      h.gate.open();
      await until('webhook_delivered', async () => (await eventsOf(record.run_id, 'webhook_delivered')).length > 0);
      expect(tries).toBe(2);
      expect(received.map((r) => JSON.parse(r.raw))).toEqual([expect.objectContaining({ run_id: record.run_id, status: 'succeeded' })]);
      // the retry found the run finished: no node ran twice, the job ended with the run's status
      expect(h.calls.filter((c) => c.key.startsWith(record.run_id)).map((c) => c.node)).toEqual(['a', 'b', 'c']);
      const job = (await h.queue.getJob(record.run_id))!;
      // parked, not failed: BullMQ counts only the attempt that completed it
      expect(job.attemptsMade).toBe(1);
      expect(job.returnvalue).toBe('succeeded');
    } finally {
      afterFinish = queueWebhook;
    }
  });

  it('a queued run cancelled while its webhook cannot be queued keeps its job; the worker queues the webhook', async () => {
    await startDeliverer();
    const cancels = new CancelService({
      store: h.store, queue: h.queue, publisher: h.redis, channel: h.keys.cancelChannel, log, ttlSec: 600,
      onFinished: async () => { throw new Error('Connection is closed.'); },
    });
    await h.queue.pause();
    try {
      const { record } = await submitRun({ store: h.store, queue: h.queue, ttlSec: 600 }, { graph: 'abc', agentId: 'sofiia', input: {}, webhook: hookUrl });
      expect(await cancels.cancel(record, 'wrong version')).toMatchObject({ status: 'cancelled', cancel_reason: 'wrong version' });
      expect(await h.queue.getJob(record.run_id)).toBeDefined(); // kept: nothing else would queue the webhook
      expect(logs.join('')).toContain(`run_finished_hook_failed run=${record.run_id}`);
      await h.queue.resume();
      await until('webhook_delivered', async () => (await eventsOf(record.run_id, 'webhook_delivered')).length > 0);
      expect(received.map((r) => JSON.parse(r.raw))).toEqual([expect.objectContaining({ run_id: record.run_id, status: 'cancelled', cancel_reason: 'wrong version' })]);
      expect(h.calls.filter((c) => c.key.startsWith(record.run_id))).toEqual([]); // no node ever ran
      expect((await h.queue.getJob(record.run_id))!.returnvalue).toBe('cancelled');
    } finally {
      await h.queue.resume();
    }
  });

  it('retries a 500 with backoff, then succeeds, signing the same body each time', async () => {
    status = (n) => (n <= 2 ? 500 : 204);
    await startDeliverer();
    const rec = await finishedRun('cancelled');
    const [delivered] = await until('webhook_delivered', async () => (await eventsOf(rec.run_id, 'webhook_delivered')).length > 0 && eventsOf(rec.run_id, 'webhook_delivered'));
    expect(received).toHaveLength(3);
    expect(received.map((r) => r.headers['x-supervisor-attempt'])).toEqual(['1', '2', '3']);
    expect(new Set(received.map((r) => r.raw)).size).toBe(1);
    for (const r of received) expect(r.headers['x-supervisor-signature']).toBe(expectedSignature(r.headers['x-supervisor-timestamp'] as string, r.raw));
    expect(delivered!.data).toEqual({ status_code: 204, attempts: 3 });
    expect(await eventsOf(rec.run_id, 'webhook_failed')).toEqual([]);
  });

  it('commits the record again after a failed attempt: the next attempt finds it, however little of its TTL was left', async () => {
    status = (n) => (n === 1 ? 503 : 200);
    const ttls: number[] = [];
    let id = '';
    const keys = () => [h.keys.run(id), h.keys.events(id)];
    beforeAnswer = async (n) => {
      // the first attempt finds a record about to expire (RUN_TTL_SEC shorter than the retry window)
      if (n === 1) for (const k of keys()) await h.redis.expire(k, 30);
      else for (const k of keys()) ttls.push(await h.redis.ttl(k));
    };
    await startDeliverer();
    id = (await finishedRun()).run_id;
    const [delivered] = await until('webhook_delivered', async () => (await eventsOf(id, 'webhook_delivered')).length > 0 && eventsOf(id, 'webhook_delivered'));
    expect(delivered!.data).toEqual({ status_code: 200, attempts: 2 });
    // what the second attempt saw: the record and its events given a fresh life by the failed first one
    expect(ttls).toHaveLength(2);
    for (const ttl of ttls) expect(ttl).toBeGreaterThan(30);
  });

  it('numbers the attempts begun: after a worker was killed mid-POST the next attempt does not repeat its number', async () => {
    hold = (n) => n === 1;
    // a queue of its own: the other tests' workers ran its stalled check with the default 30 s
    // interval, which holds every later check back that long
    const queuePrefix = `${h.prefix}killed:`;
    const own = createWebhookQueue(bull, queuePrefix);
    const conn = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    const worker = (connection: Redis, opts: { lockDuration?: number }) => new Worker(QUEUES.webhooks, createWebhookProcessor({ store: h.store, log, secret: SECRET, timeoutMs: 60_000, now: Date.now }), {
      connection, prefix: bullPrefix(queuePrefix), concurrency: 1, stalledInterval: 200, ...opts,
    });
    // the worker to be killed: a short lock, so its job is found stalled soon after it stops renewing
    const doomed = worker(conn, { lockDuration: 1_000 });
    doomed.on('error', () => undefined);
    try {
      await doomed.waitUntilReady();
      const rec = { ...newRunRecord({ graph: 'abc', agentId: 'sofiia', input: {}, webhook: hookUrl }), status: 'succeeded' as const, finished_at: new Date().toISOString() };
      await h.store.create(rec, { events: [event('run_created'), event('run_succeeded')] });
      await enqueueWebhook(own, rec, 600, fastRetry);
      await until('the first POST', () => received.length === 1);
      // killed mid-POST: no lock renewal, its answer never processed
      await doomed.close(true);
      conn.disconnect();
      deliverer = worker(bull, {});
      const [delivered] = await until('webhook_delivered', async () => (await eventsOf(rec.run_id, 'webhook_delivered')).length > 0 && eventsOf(rec.run_id, 'webhook_delivered'));
      expect(received.map((r) => r.headers['x-supervisor-attempt'])).toEqual(['1', '2']);
      expect(delivered!.data).toEqual({ status_code: 200, attempts: 2 });
    } finally {
      await deliverer?.close();
      deliverer = undefined;
      await own.obliterate({ force: true }).catch(() => undefined);
      await own.close();
    }
  });

  it('records webhook_failed after the last attempt; a 4xx is not retried', async () => {
    status = () => 503;
    await startDeliverer();
    const exhausted = await finishedRun();
    const [failed] = await until('webhook_failed', async () => (await eventsOf(exhausted.run_id, 'webhook_failed')).length > 0 && eventsOf(exhausted.run_id, 'webhook_failed'));
    expect(failed!.data).toMatchObject({ status_code: 503, attempts: 5 });
    expect(received).toHaveLength(5);

    received = [];
    status = () => 410;
    const gone = await finishedRun();
    const [refused] = await until('webhook_failed', async () => (await eventsOf(gone.run_id, 'webhook_failed')).length > 0 && eventsOf(gone.run_id, 'webhook_failed'));
    expect(refused!.data).toMatchObject({ status_code: 410, attempts: 1 });
    expect(received).toHaveLength(1);
    expect((await webhooks.getJob(`${gone.run_id}-webhook`))?.failedReason).toMatch(/http_410/);
  });

  it('a delivered webhook whose outcome event Redis refuses (out of memory) is not POSTed again', async () => {
    const full = Object.assign(Object.create(h.store) as RunStore, {
      commit: async () => { throw new ReplyError("OOM command not allowed when used memory > 'maxmemory'."); },
    });
    await startDeliverer(SECRET, full);
    const rec = await finishedRun();
    const job = await ended(`${rec.run_id}-webhook`);
    expect([job.returnvalue, job.attemptsMade, received.length]).toEqual(['delivered', 1, 1]);
    expect(await eventsOf(rec.run_id, 'webhook_delivered')).toEqual([]);
    expect(logs.join('')).toMatch(/webhook_outcome_not_recorded .*reason=redis_error/);
  });

  it('reads only the status of a receiver that answers with an endless body (2xx delivered, 5xx retried)', async () => {
    endless = true;
    status = (n) => (n === 1 ? 503 : 200);
    await startDeliverer();
    const rec = await finishedRun();
    const [delivered] = await until('webhook_delivered', async () => (await eventsOf(rec.run_id, 'webhook_delivered')).length > 0 && eventsOf(rec.run_id, 'webhook_delivered'));
    expect(delivered!.data).toEqual({ status_code: 200, attempts: 2 });
    expect(received).toHaveLength(2);
  });

  it('a job added by hand for a run (bull-board "add job") delivers nothing: only the run\'s own job POSTs', async () => {
    await startDeliverer();
    const rec = await finishedRun();
    await until('webhook_delivered', async () => (await eventsOf(rec.run_id, 'webhook_delivered')).length > 0);
    await webhooks.add('deliver', { run_id: rec.run_id }, { jobId: 'added-by-hand' });
    const job = await ended('added-by-hand');
    expect(job.returnvalue).toBe('ignored');
    expect(received.map((r) => r.headers['x-supervisor-delivery'])).toEqual([`${rec.run_id}-webhook`]);
    expect(await eventsOf(rec.run_id, 'webhook_delivered')).toHaveLength(1);
    expect(logs.join('')).toMatch(new RegExp(`webhook_job_not_the_runs job=added-by-hand run=${rec.run_id} expected=${rec.run_id}-webhook`));
  });

  it('sends no signature headers when WEBHOOK_SECRET is empty', async () => {
    await startDeliverer('');
    const rec = await finishedRun();
    await until('webhook_delivered', async () => (await eventsOf(rec.run_id, 'webhook_delivered')).length > 0);
    expect(received[0]!.headers['x-supervisor-signature']).toBeUndefined();
    expect(received[0]!.headers['x-supervisor-timestamp']).toBeUndefined();
  });

  it('WEBHOOK_ALLOWED_HOSTS is checked again at delivery: a host no longer listed gets nothing, once, and the run says why', async () => {
    await startDeliverer(SECRET, h.store, ['hooks.example.com', '*.internal.example']);
    const refused = await finishedRun();
    const [failed] = await until('webhook_failed', async () => (await eventsOf(refused.run_id, 'webhook_failed')).length > 0 && eventsOf(refused.run_id, 'webhook_failed'));
    expect(failed!.data).toEqual({ status_code: null, attempts: 1, error: 'host_not_allowed' });
    expect(received).toEqual([]);
    // the event is recorded before the job ends
    const job = await ended(`${refused.run_id}-webhook`);
    expect([await job.getState(), job.returnvalue, job.attemptsMade]).toEqual(['completed', 'refused', 1]);
    expect(logs.join('')).toMatch(new RegExp(`webhook_failed run=${refused.run_id} host=127\\.0\\.0\\.1:\\d+ attempt=1 error=host_not_allowed`));

    await deliverer!.close();
    await startDeliverer(SECRET, h.store, ['127.0.0.1']);
    const allowed = await finishedRun();
    await until('webhook_delivered', async () => (await eventsOf(allowed.run_id, 'webhook_delivered')).length > 0);
    expect(received.map((r) => JSON.parse(r.raw).run_id)).toEqual([allowed.run_id]);
  });

  it('WEBHOOK_DENY_PRIVATE: no POST to a private address, named literally or by a name that resolves to one; one attempt, the run says why', async () => {
    await startDeliverer(SECRET, h.store, [], true);
    const byName = await finishedRun('failed', hookUrl.replace('127.0.0.1', 'localhost')); // 127.0.0.1 and ::1
    const literal = await finishedRun('failed', hookUrl.replace('127.0.0.1', '[::ffff:7f00:1]'));
    for (const rec of [byName, literal]) {
      const [failed] = await until('webhook_failed', async () => (await eventsOf(rec.run_id, 'webhook_failed')).length > 0 && eventsOf(rec.run_id, 'webhook_failed'));
      expect(failed!.data).toEqual({ status_code: null, attempts: 1, error: 'private_address' });
      const job = await ended(`${rec.run_id}-webhook`);
      expect(job.attemptsMade).toBe(1);
    }
    expect(received).toEqual([]);

    await deliverer!.close();
    await startDeliverer(SECRET, h.store, [], false);
    const allowed = await finishedRun('failed', hookUrl.replace('127.0.0.1', 'localhost'));
    await until('webhook_delivered', async () => (await eventsOf(allowed.run_id, 'webhook_delivered')).length > 0);
    expect(received.map((r) => JSON.parse(r.raw).run_id)).toEqual([allowed.run_id]);
  });
});
