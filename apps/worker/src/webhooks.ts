import { createHmac } from 'node:crypto';
import { UnrecoverableError, type Job } from 'bullmq';
import got from 'got';
import { capBody } from '@sup/gateway-client';
import {
  event, isTerminal, WEBHOOK_HEADERS, WebhookJobData, webhookJobId, webhookHostAllowed, webhookLiteralPrivate, type RunEvent, type RunRecord,
  type WebhookPayload,
} from '@sup/contracts';
import type { Logger } from '@sup/logging';
import type { RunStore } from '@sup/run-store';
import { PRIVATE_ADDRESS, publicOnlyLookup } from './webhook-lookup.js';

export interface WebhookDeps {
  store: RunStore;
  log: Logger;
  /** WEBHOOK_SECRET; '' sends unsigned webhooks. */
  secret: string;
  timeoutMs: number;
  /** WEBHOOK_ALLOWED_HOSTS, checked again at delivery (the list may have shrunk since the run was created); empty = any. */
  allowedHosts?: readonly string[];
  /** WEBHOOK_DENY_PRIVATE: no delivery to a loopback, private or link-local address (webhook-lookup.ts). */
  denyPrivate?: boolean;
  now(): number;
}

/** `sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>`; the timestamp binds it to one attempt. */
export function signWebhook(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

export function webhookPayload(rec: RunRecord): WebhookPayload {
  const { run_id, graph, status, error, finished_at } = rec;
  return { run_id, graph, status, result: rec.result ?? null, error, finished_at, cancel_reason: status === 'cancelled' ? rec.cancel_reason ?? null : null };
}

type Outcome = { ok: true; statusCode: number } | { ok: false; statusCode: number | null; error: string; retryable: boolean };

/** A receiver's answer is not used: only its status. Reading stops after this many bytes. */
export const WEBHOOK_MAX_ANSWER_BYTES = 64 * 1024;

async function post(url: string, body: string, headers: Record<string, string>, timeoutMs: number, denyPrivate: boolean): Promise<Outcome> {
  let statusCode: number | undefined;
  try {
    // retries belong to the BullMQ job (they survive restarts); redirects are not followed, so the
    // signed body only ever goes to the URL the run was created with
    const pending = got.post(url, {
      body, headers, timeout: { request: timeoutMs }, retry: { limit: 0 }, throwHttpErrors: false, followRedirect: false,
      ...(denyPrivate ? { dnsLookup: publicOnlyLookup } : {}),
    });
    // a receiver that answers with an endless or huge body must not fill the worker's memory
    capBody(pending, WEBHOOK_MAX_ANSWER_BYTES);
    statusCode = (await pending).statusCode;
  } catch (err) {
    // cut short after the status line arrived (the limit above): the status is the answer
    statusCode = (err as { response?: { statusCode?: number } }).response?.statusCode;
    const code = (err as { code?: string }).code;
    // the name resolves to private addresses only: so it will on the next attempt
    if (statusCode === undefined && code === PRIVATE_ADDRESS) return { ok: false, statusCode: null, error: 'private_address', retryable: false };
    if (statusCode === undefined) return { ok: false, statusCode: null, error: code ?? 'request_failed', retryable: true };
  }
  if (statusCode >= 200 && statusCode < 300) return { ok: true, statusCode };
  // other 4xx (and 3xx) mean the receiver refuses this request: sending it again cannot help
  return { ok: false, statusCode, error: `http_${statusCode}`, retryable: statusCode >= 500 || statusCode === 408 || statusCode === 429 };
}

// the URL may carry a token in its path or query: logs get the host only
function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return '-';
  }
}

/**
 * Delivers one finished run's webhook per job attempt. A 2xx ends it; 5xx, 408, 429 and network
 * errors are retried by BullMQ with exponential backoff; the outcome is appended to the run's
 * events (`webhook_delivered` / `webhook_failed`) without changing the record.
 */
export function createWebhookProcessor(d: WebhookDeps) {
  /**
   * The outcome event is for people reading the run; the delivery is what counts. A Redis that
   * refuses the write (out of memory) must not fail the job: its retry would POST a delivered
   * webhook again.
   */
  async function record(runId: string, ev: RunEvent): Promise<void> {
    try {
      const cur = await d.store.get(runId);
      if (!cur || !isTerminal(cur.status)) return;
      const res = await d.store.commit(runId, { ifStatus: [cur.status], record: cur, events: [ev] });
      if (!res.ok) d.log.warn('webhook_outcome_not_recorded', { run: runId, reason: res.reason });
    } catch (err) {
      d.log.warn('webhook_outcome_not_recorded', { run: runId, reason: 'redis_error', error: (err as Error).message });
    }
  }

  /**
   * After a failed attempt with more to come: the record is committed again as it is, so its
   * expiry (RunStore.ttlOf: at least WEBHOOK_MIN_TTL_SEC for a finished run with a webhook) counts
   * from now and the next attempt still finds the payload, however short RUN_TTL_SEC is. A commit
   * by someone else meanwhile (`changed`) refreshed it too; a failure here is only logged.
   */
  async function keepForRetry(runId: string, read: { record: RunRecord; raw: string }): Promise<void> {
    try {
      const res = await d.store.commit(runId, { ifStatus: [read.record.status], ifRaw: read.raw, record: read.record });
      if (!res.ok && res.reason !== 'changed') d.log.warn('webhook_record_not_kept', { run: runId, reason: res.reason });
    } catch (err) {
      d.log.warn('webhook_record_not_kept', { run: runId, reason: 'redis_error', error: (err as Error).message });
    }
  }

  return async function deliverWebhook(job: Job): Promise<string> {
    const { run_id: runId } = WebhookJobData.parse(job.data);
    // a job added by hand (bull-board's "add job") would POST the run's webhook again under a new
    // delivery id, which receivers cannot recognise as a repeat: only the run's own job delivers
    if (job.id !== webhookJobId(runId)) {
      d.log.warn('webhook_job_not_the_runs', { job: job.id ?? '-', run: runId, expected: webhookJobId(runId) });
      return 'ignored';
    }
    const read = await d.store.read(runId);
    const rec = read?.record;
    if (!read || !rec || !rec.webhook || !isTerminal(rec.status)) {
      const reason = !rec ? 'run_missing' : !rec.webhook ? 'no_webhook' : `status_${rec.status}`;
      d.log.warn('webhook_skipped', { run: runId, reason });
      return 'skipped';
    }
    // attempts begun, one cut short by a killed worker included: attemptsMade counts only those
    // that ended, so after such a kill the next attempt used to repeat its number (1 2 3 3 4 …)
    const attempt = Math.max(job.attemptsStarted, job.attemptsMade + 1);
    const refused = !webhookHostAllowed(rec.webhook, d.allowedHosts ?? []) ? 'host_not_allowed'
      : d.denyPrivate && webhookLiteralPrivate(rec.webhook) ? 'private_address' : null;
    if (refused) {
      await record(runId, event('webhook_failed', undefined, { status_code: null, attempts: attempt, error: refused }));
      d.log.error('webhook_failed', { run: runId, host: hostOf(rec.webhook), attempt, error: refused });
      return 'refused';
    }
    const body = JSON.stringify(webhookPayload(rec));
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': 'sofiia-supervisor-webhook',
      [WEBHOOK_HEADERS.delivery]: String(job.id),
      [WEBHOOK_HEADERS.attempt]: String(attempt),
    };
    if (d.secret) {
      const ts = String(Math.floor(d.now() / 1000));
      headers[WEBHOOK_HEADERS.timestamp] = ts;
      headers[WEBHOOK_HEADERS.signature] = signWebhook(d.secret, ts, body);
    }
    const started = d.now();
    const out = await post(rec.webhook, body, headers, d.timeoutMs, d.denyPrivate ?? false);
    const meta = { run: runId, host: hostOf(rec.webhook), attempt, elapsed_ms: d.now() - started };
    if (out.ok) {
      await record(runId, event('webhook_delivered', undefined, { status_code: out.statusCode, attempts: attempt }));
      d.log.info('webhook_delivered', { ...meta, status_code: out.statusCode });
      return 'delivered';
    }
    // BullMQ retries while failed attempts are fewer than `attempts` (an attempt cut short by a
    // killed worker is not one of them)
    const final = !out.retryable || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
    if (!final) {
      d.log.warn('webhook_retry', { ...meta, status_code: out.statusCode ?? '-', error: out.error });
      await keepForRetry(runId, read);
      throw new Error(`webhook ${out.error}`);
    }
    await record(runId, event('webhook_failed', undefined, { status_code: out.statusCode, attempts: attempt, error: out.error }));
    d.log.error('webhook_failed', { ...meta, status_code: out.statusCode ?? '-', error: out.error });
    throw new UnrecoverableError(`webhook ${out.error}`);
  };
}
