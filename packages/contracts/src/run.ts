import { z } from 'zod';

export const RUN_STATUSES = ['queued', 'running', 'waiting', 'cancelling', 'succeeded', 'failed', 'cancelled'] as const;
export const RunStatus = z.enum(RUN_STATUSES);
export type RunStatus = z.infer<typeof RunStatus>;

export const TERMINAL_STATUSES: readonly RunStatus[] = ['succeeded', 'failed', 'cancelled'];
export const isTerminal = (s: string): boolean => (TERMINAL_STATUSES as readonly string[]).includes(s);

/** Stored errors are data, never exceptions or stacks. */
export const ErrorData = z.object({
  code: z.string(),
  message: z.string(),
  node: z.string().optional(),
  details: z.unknown().optional(),
});
export type ErrorData = z.infer<typeof ErrorData>;

export const NodeHistoryEntry = z.object({
  node: z.string(),
  status: z.enum(['running', 'succeeded', 'waiting', 'failed', 'cancelled']),
  started_at: z.string(),
  finished_at: z.string().nullable(),
  duration_ms: z.number().nullable(),
  tool_calls: z.number().int(),
  visit: z.number().int(),
});
export type NodeHistoryEntry = z.infer<typeof NodeHistoryEntry>;

export const Trigger = z.object({
  type: z.enum(['api', 'schedule', 'parent']),
  schedule_id: z.string().optional(),
  /** The schedule's fire time this run belongs to (ISO); absent for a manual trigger. */
  scheduled_at: z.string().optional(),
});
export type Trigger = z.infer<typeof Trigger>;

/**
 * The run record, stored as one JSON string at `run:{run_id}`. Operators may GET and SET it by hand
 * (runbook); unknown fields are kept, so a hand-edited record still parses.
 */
export const RunRecord = z.looseObject({
  run_id: z.string(),
  graph: z.string(),
  agent_id: z.string(),
  status: RunStatus,
  current_node: z.string().nullable(),
  created_at: z.string(),
  started_at: z.string().nullable(),
  finished_at: z.string().nullable(),
  updated_at: z.string(),
  attempt: z.number().int(),
  input: z.record(z.string(), z.unknown()),
  metadata: z.record(z.string(), z.unknown()).optional(),
  webhook: z.string().nullable().optional().describe('as the API shows it: scheme, host and port only, then `/…`; the rest of the URL may be a secret'),
  trigger: Trigger.optional(),
  parent_run_id: z.string().nullable().optional(),
  result: z.unknown().nullable(),
  error: ErrorData.nullable(),
  nodes: z.array(NodeHistoryEntry),
  cancel_reason: z.string().optional().describe('why the run was cancelled: the `reason` given to the cancel request, or the system\'s (`parent cancelled`); absent when none was given'),
  /** Owner of the run right now: the BullMQ lock token of the worker processing it. */
  lease: z.string().nullable().optional(),
  /** XState persisted snapshot after the last finished node; null before the first step. */
  snapshot: z.unknown().nullable().optional(),
  /**
   * Lost workers in a row with the same node in flight: a claim of a run still `running` whose job
   * BullMQ's stall detection moved back since the last claim (`stalls` went up: the worker died,
   * froze or was cut off) counts one; the commit of the node's outcome drops it. Absent when 0.
   * See the worker's CRASH_LOOP_LIMIT.
   */
  takeovers: z.number().int().optional(),
  /** BullMQ's stall count of the run's job at the last claim; absent when 0. */
  stalls: z.number().int().optional(),
  /**
   * Only while `status` is `waiting`: why the run is parked (`job_running`: polling an external job,
   * `child_run`: waiting for a child run, `retry`: backing off after a retryable failure) and when
   * it is due to wake (the next poll).
   */
  waiting: z.looseObject({ reason: z.string(), until: z.string() }).optional().describe('what a waiting run waits for and until when; with the ids of what it waits on (`child_run_id`, `job_id`)'),
  /**
   * Internal: the digest naming the run's idempotency key (`idem:<agent_id>:<idem>`), when it was
   * created with one. Every commit extends that key's expiry with the record's, so a key never
   * expires while its run exists (it would start a second run).
   */
  idem: z.string().regex(/^[0-9a-f]{32}$/).optional(),
});
export type RunRecord = z.infer<typeof RunRecord>;

/** The record without `waiting`: for every transition out of the waiting status. */
export function unparked(r: RunRecord): RunRecord {
  if (r.waiting === undefined) return r;
  const { waiting: _waiting, ...rest } = r;
  return rest;
}

/**
 * A webhook URL as the API shows it: scheme, host and port only. Its user info, path and query may
 * be the receiver's secret (`https://hooks.slack.com/services/T0/B0/XXXX`, `?token=`), and any
 * holder of an API key may read runs.
 */
export function webhookOrigin(url: string): string {
  if (!URL.canParse(url)) return '…';
  const u = new URL(url);
  return `${u.protocol}//${u.host}${u.pathname === '/' && !u.search && !u.username ? '/' : '/…'}`;
}

/** What the API answers: the record without internals (lease, snapshot, idem), its webhook shown by origin only. */
export function publicRun(r: RunRecord): Omit<RunRecord, 'lease' | 'snapshot' | 'idem'> {
  const { lease: _lease, snapshot: _snapshot, idem: _idem, ...rest } = r;
  // `waiting` says what a waiting run waits for; a record SET by hand to another status may keep it
  if (rest.waiting !== undefined && rest.status !== 'waiting') delete rest.waiting;
  return rest.webhook ? { ...rest, webhook: webhookOrigin(rest.webhook) } : rest;
}

/** The most a run's `metadata` may take, as JSON. */
export const METADATA_MAX_BYTES = 16_384;

export const CreateRunBody = z.object({
  agent_id: z.string().min(1).max(128).regex(/^[A-Za-z0-9_.:-]+$/, 'letters, digits, _ . : - only'),
  input: z.record(z.string(), z.unknown()).default({}),
  // labels for the caller, kept in the record and rewritten with it on every step: small
  metadata: z.record(z.string(), z.unknown())
    .refine((m) => Buffer.byteLength(JSON.stringify(m)) <= METADATA_MAX_BYTES, `at most ${METADATA_MAX_BYTES} bytes as JSON`).nullish(),
  webhook: z.url({ protocol: /^https?$/ }).max(2048).optional(),
});
export type CreateRunBody = z.infer<typeof CreateRunBody>;
