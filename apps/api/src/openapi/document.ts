import {
  CancelRunBody, CreateRunBody, ErrorBody, GraphList, HealthResponse, ListRunsQuery, PublicRunRecord, RUN_STATUSES,
  RunEvent, RunEventsQuery, RunEventsResponse, RunPage,
} from '@sup/contracts';
import type { GraphDefinition } from '@sup/graphs';
import { inputComponentName, jsonSchema, queryParameters, type JsonSchema } from './json-schema.js';
import { Schedule, ScheduleBody, ScheduleList, ScheduleTicks, ScheduleTriggerBody } from './schedules.js';

export interface OpenApiOptions {
  graphs: Record<string, GraphDefinition>;
  /** METRICS_PUBLIC: /metrics is then served without a key. */
  metricsPublic: boolean;
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: JsonSchema) => ({ 'application/json': { schema } });
const ok = (description: string, schema: JsonSchema) => ({ description, content: json(schema) });
const errors = (...names: Array<keyof typeof ERROR_RESPONSES>) =>
  Object.fromEntries(names.map((n) => [ERROR_RESPONSES[n][0], { $ref: `#/components/responses/${n}` }]));

const ERROR_RESPONSES = {
  BadRequest: ['400', 'invalid JSON, body, query or header (`details` lists the failing fields)'],
  Unauthorized: ['401', 'API_KEYS is set and the request has no valid `Authorization: Bearer <key>`'],
  NotFound: ['404', 'no such run, graph or schedule'],
  Conflict: ['409', 'conflicts with the current state: the run already finished (`details.status`), the schedule comes from configuration, its previous run is unfinished, the Idempotency-Key started a run of another graph or with another input, metadata or webhook, or the run record was hand-edited into something that is not a run (`run_record_corrupt`: fix it with SET or remove it with DEL)'],
  PayloadTooLarge: ['413', 'request body above BODY_LIMIT_KB'],
  UnsupportedMediaType: ['415', 'the body is not `application/json`'],
  Unprocessable: ['422', '`webhook_not_allowed`: the webhook\'s host is not in WEBHOOK_ALLOWED_HOSTS (`details.allowed`)'],
  Unavailable: ['503', '`redis_unavailable`: Redis is unreachable or not taking writes (`details.reason`: `unavailable`, or `out_of_memory` — maxmemory reached, an operator must act); retry after `Retry-After` seconds; on a create also `over_capacity`: Redis is at ADMISSION_MEMORY_PCT of its maxmemory and new runs are refused; on /metrics `metrics_unavailable`: the queue and run figures could not be read in time'],
} as const;

const PUBLIC: [] = [];
const ADMIN = [{ bearerAuth: [] }, { adminSession: [] }, { adminKeyQuery: [] }];
const runIdParam = { name: 'run_id', in: 'path', required: true, schema: { type: 'string', pattern: '^gr_[a-z0-9]{6,40}$' } };
const scheduleIdParam = { name: 'id', in: 'path', required: true, schema: { type: 'string' } };
const limitParam = { name: 'limit', in: 'query', required: false, schema: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } };
const cursorParam = { name: 'cursor', in: 'query', required: false, description: '`next_cursor` of the previous page (opaque)', schema: { type: 'string', maxLength: 200 } };

/**
 * The OpenAPI 3.1 document of the API, built from the same zod schemas the routes validate with.
 * Built once per process: graphs are static, so each graph's input schema is a component.
 */
export function buildOpenApiDocument(o: OpenApiOptions): JsonSchema {
  const graphNames = Object.keys(o.graphs);
  const inputs = Object.fromEntries(Object.values(o.graphs).map((g) => [inputComponentName(g.name), jsonSchema(g.input, 'input')]));
  const createBody = jsonSchema(CreateRunBody, 'input') as { properties: Record<string, JsonSchema> };
  createBody.properties.input = {
    description: 'checked against the input schema of the graph named in the path',
    anyOf: Object.keys(inputs).map(ref),
  };

  const paths: Record<string, Record<string, unknown>> = {
    '/healthz': {
      get: {
        operationId: 'health', tags: ['system'], security: PUBLIC, summary: 'Liveness and Redis reachability',
        responses: { 200: ok('Redis answers', ref('Health')), 503: ok('`status: degraded`, with the reason', ref('Health')) },
      },
    },
    '/openapi.json': {
      get: {
        operationId: 'openapi', tags: ['system'], security: PUBLIC, summary: 'This document',
        description: 'Public on purpose: it describes shapes, never data, so clients and generators can read it without a key.',
        responses: { 200: ok('OpenAPI 3.1 document', { type: 'object' }) },
      },
    },
    '/docs': {
      get: {
        operationId: 'docs', tags: ['system'], security: PUBLIC, summary: 'This document as an HTML page (self-contained, no external assets)',
        responses: { 200: { description: 'HTML', content: { 'text/html': { schema: { type: 'string' } } } } },
      },
    },
    '/metrics': {
      get: {
        operationId: 'metrics', tags: ['system'], summary: 'Prometheus metrics',
        description: 'Runs per graph/status, run and node durations, gateway calls, queue depths. Needs the API key unless METRICS_PUBLIC=true.',
        ...(o.metricsPublic ? { security: PUBLIC } : {}),
        responses: { 200: { description: 'Prometheus text exposition format', content: { 'text/plain': { schema: { type: 'string' } } } }, ...errors('Unauthorized', 'Unavailable') },
      },
    },
    '/admin/queues': {
      get: {
        operationId: 'adminQueues', tags: ['admin'], summary: 'bull-board dashboard over every queue (HTML app; its assets and API live below this path)',
        description: 'A browser opens `/admin/queues?api_key=<key>` once: the answer sets an HttpOnly session cookie scoped to /admin and redirects to the URL without the key.',
        'x-subtree': true, security: ADMIN,
        responses: {
          200: { description: 'HTML', content: { 'text/html': { schema: { type: 'string' } } } },
          303: { description: 'a valid `api_key` was given: session cookie set, redirect without the key' },
          ...errors('Unauthorized'),
        },
      },
    },
    '/admin/runs/{run_id}': {
      get: {
        operationId: 'adminGetRun', tags: ['admin'], summary: 'The run record, opened from a bull-board job link (admin session)',
        parameters: [runIdParam], security: ADMIN,
        responses: { 200: ok('the run', ref('RunRecord')), ...errors('Unauthorized', 'NotFound', 'Conflict', 'Unavailable') },
      },
    },
    '/v1/graphs': {
      get: {
        operationId: 'listGraphs', tags: ['graphs'], summary: 'Graphs with their nodes, edges and input JSON Schema',
        responses: { 200: ok('every graph', ref('GraphList')), ...errors('Unauthorized') },
      },
    },
    '/v1/graphs/{graph}/runs': {
      post: {
        operationId: 'createRun', tags: ['runs'], summary: 'Start a run of a graph',
        description: 'Writes the run record (status `queued`) and enqueues it; a worker picks it up. With the same `Idempotency-Key` (per agent, while the run exists) the existing run is answered, also with 202, with `Idempotent-Replayed: true`, and no second run starts; the same key for another graph, or with another input, metadata or webhook (`details.differs`), is a 409 `idempotency_key_reused`.',
        parameters: [
          { name: 'graph', in: 'path', required: true, schema: { type: 'string', enum: graphNames } },
          { name: 'Idempotency-Key', in: 'header', required: false, description: 'printable ASCII, no spaces, at most 200 characters', schema: { type: 'string', maxLength: 200, pattern: '^[\\x21-\\x7e]+$' } },
        ],
        requestBody: { required: true, content: json(ref('CreateRunBody')) },
        responses: {
          202: {
            ...ok('run created (status `queued`), or the earlier run of the same Idempotency-Key', ref('RunRecord')),
            headers: {
              Location: { description: '`/v1/runs/{run_id}`', schema: { type: 'string' } },
              'Idempotent-Replayed': { description: '`true` when an earlier run of the same Idempotency-Key is answered', schema: { type: 'string', enum: ['true', 'false'] } },
            },
          },
          ...errors('BadRequest', 'Unauthorized', 'NotFound', 'Conflict', 'PayloadTooLarge', 'UnsupportedMediaType', 'Unprocessable', 'Unavailable'),
        },
      },
    },
    '/v1/runs': {
      get: {
        operationId: 'listRuns', tags: ['runs'], summary: 'Recent runs, newest first, with cursor pagination',
        parameters: queryParameters(ListRunsQuery),
        responses: { 200: ok('one page', ref('RunPage')), ...errors('BadRequest', 'Unauthorized', 'Unavailable') },
      },
    },
    '/v1/runs/{run_id}': {
      get: {
        operationId: 'getRun', tags: ['runs'], summary: 'The run record: status, current node, per-node history, result or error',
        parameters: [runIdParam],
        responses: { 200: ok('the run', ref('RunRecord')), ...errors('Unauthorized', 'NotFound', 'Conflict', 'Unavailable') },
      },
    },
    '/v1/runs/{run_id}/events': {
      get: {
        operationId: 'getRunEvents', tags: ['runs'], summary: 'The run\'s events, as JSON or live as Server-Sent Events',
        description: 'With `Accept: text/event-stream` (or `?follow=1`) the events stream live: each SSE message has `id:` (the event id), `event:` (its type) and `data:` (the RunEvent as JSON), with `: keepalive` comments between; the stream ends after the run\'s final event. Reconnect with `Last-Event-ID` (or `?after=`) to receive only the rest: the id must be one of this run\'s events, or `0-0` (from the start); any other is a 400 `unknown_event_id`, before any stream starts. The query is checked for both forms alike.',
        parameters: [
          runIdParam,
          ...queryParameters(RunEventsQuery),
          { name: 'Last-Event-ID', in: 'header', required: false, description: 'SSE: resume after this event id', schema: { type: 'string' } },
        ],
        responses: {
          200: {
            description: 'the events, oldest first',
            content: {
              'application/json': { schema: ref('RunEvents') },
              'text/event-stream': { schema: { type: 'string', description: 'SSE messages; `data:` is a RunEvent' } },
            },
          },
          204: { description: 'SSE: the run has finished and nothing is left after Last-Event-ID (EventSource stops reconnecting)' },
          ...errors('BadRequest', 'Unauthorized', 'NotFound', 'Conflict'),
          503: { description: '`redis_unavailable` (see the other routes), or `streaming_unavailable`: SSE requested from an API process without an event follower; ask for JSON instead', content: json(ref('Error')) },
        },
      },
    },
    '/v1/runs/{run_id}/cancel': {
      post: {
        operationId: 'cancelRun', tags: ['runs'], summary: 'Cancel a run',
        description: 'Queued and waiting runs become `cancelled` at once; a running one becomes `cancelling` and stops at its next step or by aborting its in-flight tool call.',
        parameters: [runIdParam],
        requestBody: { required: false, content: json(ref('CancelRunBody')) },
        responses: { 202: ok('cancelled, or cancelling', ref('RunRecord')), ...errors('BadRequest', 'Unauthorized', 'NotFound', 'Conflict', 'Unavailable') },
      },
    },
    '/v1/schedules': {
      get: {
        operationId: 'listSchedules', tags: ['schedules'], summary: 'Schedules with their next fire times, by id, a page at a time',
        parameters: [limitParam, cursorParam],
        responses: { 200: ok('a page of schedules', ref('ScheduleList')), ...errors('BadRequest', 'Unauthorized', 'Unavailable') },
      },
      post: {
        operationId: 'upsertSchedule', tags: ['schedules'], summary: 'Create or replace a schedule (BullMQ job scheduler)',
        requestBody: { required: true, content: json(ref('ScheduleBody')) },
        responses: {
          201: ok('created', ref('Schedule')), 200: ok('replaced', ref('Schedule')),
          ...errors('BadRequest', 'Unauthorized', 'Conflict', 'PayloadTooLarge', 'UnsupportedMediaType', 'Unavailable'),
        },
      },
    },
    '/v1/schedules/{id}': {
      get: {
        operationId: 'getSchedule', tags: ['schedules'], summary: 'One schedule', parameters: [scheduleIdParam],
        responses: { 200: ok('the schedule', ref('Schedule')), ...errors('Unauthorized', 'NotFound', 'Unavailable') },
      },
      delete: {
        operationId: 'deleteSchedule', tags: ['schedules'], summary: 'Remove a schedule (runs it started are kept)', parameters: [scheduleIdParam],
        responses: { 200: ok('removed; the answer is the deleted schedule', ref('Schedule')), ...errors('Unauthorized', 'NotFound', 'Conflict', 'Unavailable') },
      },
    },
    '/v1/schedules/{id}/trigger': {
      post: {
        operationId: 'triggerSchedule', tags: ['schedules'], summary: 'Start the schedule\'s run now', parameters: [scheduleIdParam],
        description: 'The schedule\'s overlap policy applies: 409 `schedule_overlap` while its previous run is unfinished (overlap: skip), unless the body says `{"overlap":"allow"}`.',
        requestBody: { required: false, content: json(ref('ScheduleTriggerBody')) },
        responses: { 202: ok('run created', ref('RunRecord')), ...errors('BadRequest', 'Unauthorized', 'NotFound', 'Conflict', 'Unavailable') },
      },
    },
    '/v1/schedules/{id}/runs': {
      get: {
        operationId: 'listScheduleRuns', tags: ['schedules'], summary: 'Runs the schedule started, newest first', parameters: [scheduleIdParam, limitParam],
        responses: { 200: ok('the runs (expired ones drop out)', ref('ScheduleRuns')), ...errors('BadRequest', 'Unauthorized', 'NotFound', 'Unavailable') },
      },
    },
    '/v1/schedules/{id}/ticks': {
      get: {
        operationId: 'listScheduleTicks', tags: ['schedules'], summary: 'The schedule\'s latest tick outcomes (fired, skipped)', parameters: [scheduleIdParam, limitParam],
        responses: { 200: ok('newest first', ref('ScheduleTicks')), ...errors('BadRequest', 'Unauthorized', 'NotFound', 'Unavailable') },
      },
    },
  };

  return {
    openapi: '3.1.0',
    info: {
      title: 'Graph run supervisor API',
      version: '1.0.0',
      description: 'Runs agent workflows (graphs) reliably. Errors are always `{"error":{code,message,details}}`. When API_KEYS is set, every route but /healthz, /openapi.json and /docs needs `Authorization: Bearer <key>`.',
    },
    servers: [{ url: '/' }],
    security: [{ bearerAuth: [] }],
    tags: [{ name: 'runs' }, { name: 'graphs' }, { name: 'schedules' }, { name: 'system' }, { name: 'admin' }],
    paths,
    components: {
      securitySchemes: {
        bearerAuth: { type: 'http', scheme: 'bearer', description: 'one of the API_KEYS (enforced only when API_KEYS is set)' },
        adminSession: { type: 'apiKey', in: 'cookie', name: 'sup_admin', description: '/admin only: session cookie set after `?api_key=`' },
        adminKeyQuery: { type: 'apiKey', in: 'query', name: 'api_key', description: '/admin only, GET: exchanged once for the session cookie' },
      },
      responses: Object.fromEntries(Object.entries(ERROR_RESPONSES).map(([name, [, description]]) => [name, ok(description, ref('Error'))])),
      schemas: {
        Error: jsonSchema(ErrorBody),
        Health: jsonSchema(HealthResponse),
        GraphList: jsonSchema(GraphList),
        CreateRunBody: createBody,
        ...inputs,
        RunRecord: jsonSchema(PublicRunRecord),
        RunStatus: { type: 'string', enum: [...RUN_STATUSES] },
        RunPage: jsonSchema(RunPage),
        RunEvent: jsonSchema(RunEvent),
        RunEvents: jsonSchema(RunEventsResponse),
        CancelRunBody: jsonSchema(CancelRunBody, 'input'),
        ScheduleBody: jsonSchema(ScheduleBody, 'input'),
        Schedule: jsonSchema(Schedule),
        ScheduleList: jsonSchema(ScheduleList),
        ScheduleTriggerBody: jsonSchema(ScheduleTriggerBody, 'input'),
        ScheduleTicks: jsonSchema(ScheduleTicks),
        ScheduleRuns: { type: 'object', required: ['schedule_id', 'runs'], properties: { schedule_id: { type: 'string' }, runs: { type: 'array', items: ref('RunRecord') } } },
      },
    },
  };
}
