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
  cancel_reason: z.string().nullable().describe('a cancelled run\'s `cancel_reason`; null otherwise'),
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

/**
 * WEBHOOK_ALLOWED_HOSTS: where run webhooks may go. An entry is a host name or IP (`hooks.example.com`,
 * `10.0.0.7`, `[::1]`), optionally with a port (`hooks.example.com:8443`), or `*.example.com` for any
 * subdomain of example.com (not example.com itself). An empty list allows every host.
 */
export const WEBHOOK_HOST_PATTERN = /^(\*\.)?([a-z0-9-]+(\.[a-z0-9-]+)*|\[[0-9a-f:.]+\])(:\d{1,5})?$/i;

/** Whether a webhook URL's host is on the list (see WEBHOOK_HOST_PATTERN); a URL that does not parse is not. */
export function webhookHostAllowed(url: string, allowed: readonly string[]): boolean {
  if (allowed.length === 0) return true;
  if (!URL.canParse(url)) return false;
  const u = new URL(url);
  const host = u.hostname.toLowerCase().replace(/\.$/, '');
  const port = u.port || (u.protocol === 'https:' ? '443' : '80');
  return allowed.some((entry) => {
    const m = /^(.*?)(?::(\d+))?$/.exec(entry.toLowerCase());
    const [pattern, wantPort] = m ? [m[1] ?? '', m[2]] : [entry, undefined];
    if (wantPort !== undefined && Number(wantPort) !== Number(port)) return false;
    return pattern.startsWith('*.') ? host.endsWith(pattern.slice(1)) && host.length > pattern.length - 1 : host === pattern;
  });
}
