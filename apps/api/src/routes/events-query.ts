import type { Request } from 'express';
import { AppError, RunEventsQuery } from '@sup/contracts';
import { isStreamId, type RunStore } from '@sup/run-store';
import { parseQuery } from '../errors.js';

/** What `GET /v1/runs/{id}/events` was asked for, checked the same way for both of its forms. */
export interface EventsRequest {
  /** Server-Sent Events rather than one JSON page. */
  stream: boolean;
  /** Events after this id of the run's own log; absent (or `0-0`) = from the start. */
  after: string | undefined;
  /** The JSON form's page size (a stream sends everything). */
  limit: number;
}

/** `0-0`, however spelled: before every event, so it names no entry and hides nothing. */
const isStart = (id: string) => /^0+-0+$/.test(id);

/**
 * The query is parsed strictly for both forms (an unknown key, a `limit` that is no number or a
 * `follow` other than 1/true/0/false is a 400 before any stream starts). `follow` decides the form
 * when given, else `Accept: text/event-stream` (what EventSource sends). The resume point is
 * `Last-Event-ID` (streams; what EventSource sends on reconnect), else `after`; it must be an entry
 * of this run's event log: an id from another run, or beyond the log's end, would otherwise read as
 * "nothing after it" and hide the events still to come.
 */
export async function eventsRequest(req: Request, store: RunStore, runId: string): Promise<EventsRequest> {
  const q = parseQuery(RunEventsQuery, req.query);
  const stream = q.follow === undefined ? (req.get('accept') ?? '').includes('text/event-stream') : q.follow === '1' || q.follow === 'true';
  const header = stream ? req.get('last-event-id') : undefined;
  const after = header !== undefined && header !== '' ? header : q.after;
  if (after === undefined) return { stream, after: undefined, limit: q.limit };
  // Redis rejects parts beyond 64 bits; answering 400 here keeps that from becoming a 500
  if (!/^\d+-\d+$/.test(after) || !isStreamId(after)) {
    throw new AppError(400, 'invalid_event_id', 'Last-Event-ID (or after) must be an event id such as 1732700000000-0');
  }
  if (isStart(after)) return { stream, after, limit: q.limit };
  const found = await store.findEvent(runId, after);
  if (found === 'found') return { stream, after, limit: q.limit };
  const shown = after.slice(0, 64);
  throw new AppError(400, 'unknown_event_id', found === 'no_log'
    ? `run ${runId} has no event log any more (it expired before the record): no event id can be resumed after; GET /v1/runs/${runId} has the run's state`
    : `event id ${shown} is not in run ${runId}'s event log (an id of another run, or beyond its last event); send no id, or 0-0, to read from the start`, {
    event_id: shown, event_log: found === 'no_log' ? 'missing' : 'present',
  });
}
