import { z } from 'zod';
import { RunEvent } from './events.js';
import { RUN_ID_RE } from './ids.js';
import { RunRecord, RunStatus } from './run.js';

/**
 * Shapes of the REST API's requests and answers that are not stored records. The API validates with
 * them, the OpenAPI document is generated from them, and clients (the CLI) read the same names.
 */

export const ErrorBody = z.object({
  error: z.object({
    code: z.string().describe('machine-readable, e.g. validation_failed, run_not_found, run_finished'),
    message: z.string(),
    details: z.unknown().describe('zod issues for a 400, the current status for a 409, ...; null when there are none'),
  }),
}).describe('Every error answer: never HTML, never a stack.');
export type ErrorBody = z.infer<typeof ErrorBody>;

export const HealthResponse = z.looseObject({
  status: z.enum(['ok', 'degraded']),
  service: z.string(),
  graphs: z.array(z.string()),
  state_backend: z.literal('redis'),
  gateway_url: z.string(),
  warnings: z.array(z.string()).optional().describe('e.g. Redis maxmemory-policy is not noeviction, or a queue paused in bull-board (the status stays ok)'),
  reason: z.string().optional().describe('why the status is degraded'),
});
export type HealthResponse = z.infer<typeof HealthResponse>;

export const GraphInfo = z.object({
  name: z.string(),
  description: z.string(),
  start: z.string(),
  nodes: z.array(z.object({ name: z.string(), description: z.string(), policy: z.record(z.string(), z.unknown()) })),
  edges: z.array(z.object({ from: z.string(), to: z.string().describe('"end" finishes the run'), conditional: z.boolean(), label: z.string().optional() })),
  input_schema: z.record(z.string(), z.unknown()).describe('JSON Schema (2020-12) of the graph\'s `input`'),
});
export type GraphInfo = z.infer<typeof GraphInfo>;
export const GraphList = z.object({ graphs: z.array(GraphInfo) });
export type GraphList = z.infer<typeof GraphList>;

/** The run record as the API answers it: without the internals `lease` and `snapshot`. */
export const PublicRunRecord = RunRecord.omit({ lease: true, snapshot: true, idem: true });
export type PublicRunRecord = z.infer<typeof PublicRunRecord>;

const IndexValue = z.string().min(1).max(128).regex(/^[A-Za-z0-9_.:-]+$/, 'letters, digits, _ . : - only');
/** Strict: an unknown parameter (`?state=`, `?agent=`) is a 400, not a filter silently ignored. */
export const ListRunsQuery = z.strictObject({
  graph: IndexValue.optional().describe('only runs of this graph'),
  status: RunStatus.optional().describe('only runs in this status; such a page may hold fewer than `limit` runs and still have a `next_cursor`'),
  agent_id: IndexValue.optional().describe('only runs of this agent'),
  parent_run_id: z.string().regex(RUN_ID_RE, 'a run id').optional().describe('only child runs of this run'),
  schedule_id: IndexValue.optional().describe('only runs started by this schedule'),
  limit: z.coerce.number().int().min(1).max(100).default(20).describe('page size'),
  cursor: z.string().max(200).optional().describe('`next_cursor` of the previous page (opaque)'),
});
export type ListRunsQuery = z.infer<typeof ListRunsQuery>;

export const RunPage = z.looseObject({
  runs: z.array(PublicRunRecord).describe('newest first'),
  next_cursor: z.string().nullable().describe('pass as `cursor` for the next page; null on the last page'),
});
export type RunPage = z.infer<typeof RunPage>;

export const RunEventsQuery = z.strictObject({
  after: z.string().regex(/^\d+-\d+$/).optional().describe('only events after this event id, which must be one of this run\'s (else 400 `unknown_event_id`); `0-0` = from the start. Streams take `Last-Event-ID` first'),
  limit: z.coerce.number().int().min(1).max(1000).default(1000).describe('JSON form: the page size (checked on streams too, which send everything)'),
  follow: z.enum(['1', 'true', '0', 'false']).optional().describe('`1`/`true`: stream as text/event-stream, `0`/`false`: JSON; absent: `Accept: text/event-stream` decides'),
});
export type RunEventsQuery = z.infer<typeof RunEventsQuery>;

export const RunEventsResponse = z.looseObject({
  run_id: z.string(),
  status: RunStatus.describe('the run\'s status when the events were read'),
  events: z.array(RunEvent),
  next_after: z.string().nullable().describe('when this page was full: pass as `after` for the next page; null when the list went to its end (complete if `status` is terminal)'),
});
export type RunEventsResponse = z.infer<typeof RunEventsResponse>;

export const CancelRunBody = z.object({ reason: z.string().max(500).optional().describe('recorded in the run\'s events') });
export type CancelRunBody = z.infer<typeof CancelRunBody>;
