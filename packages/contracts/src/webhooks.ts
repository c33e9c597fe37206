import { z } from 'zod';
import { ErrorData, RunStatus } from './run.js';

/**
 * What `POST <webhook>` carries when a run finishes. Delivery is at-least-once in the face of
 * network failures (a 2xx the supervisor never saw is retried), so receivers dedupe on
 * `X-Supervisor-Delivery`.
 */
export const WebhookPayload = z.object({
  run_id: z.string(),
  graph: z.string(),
  status: RunStatus.describe('succeeded, failed or cancelled'),
  result: z.unknown().nullable(),
  error: ErrorData.nullable(),
  finished_at: z.string().nullable(),
});
export type WebhookPayload = z.infer<typeof WebhookPayload>;

/**
 * Signing, when WEBHOOK_SECRET is set:
 *   X-Supervisor-Timestamp: <unix seconds of this attempt>
 *   X-Supervisor-Signature: sha256=<hex HMAC-SHA256(WEBHOOK_SECRET, "<timestamp>.<raw body>")>
 * The receiver recomputes it over the raw bytes it got and rejects old timestamps (replays).
 */
export const WEBHOOK_HEADERS = {
  signature: 'x-supervisor-signature',
  timestamp: 'x-supervisor-timestamp',
  delivery: 'x-supervisor-delivery',
  attempt: 'x-supervisor-attempt',
} as const;
