import type { RunEvent, RunEventsResponse } from '@sup/contracts';
import { ApiError, type ApiClient } from './client.js';

const FINAL = new Set(['run_succeeded', 'run_failed', 'run_cancelled']);
const TERMINAL = new Set(['succeeded', 'failed', 'cancelled']);
/** Answers to an SSE request that mean "this server does not stream; ask for JSON". */
const NO_STREAM = new Set([406, 501, 503]);

export interface SseMessage { id?: string; event?: string; data: string }

/** Server-Sent Events framing (WHATWG): `field: value` lines, a blank line ends a message. */
export async function* parseSse(body: ReadableStream<Uint8Array>): AsyncGenerator<SseMessage> {
  let buf = '';
  let msg: { id?: string; event?: string; data: string[] } = { data: [] };
  for await (const chunk of body.pipeThrough(new TextDecoderStream())) {
    buf += chunk;
    let nl: number;
    while ((nl = buf.search(/\r\n|\r|\n/)) >= 0) {
      if (nl === buf.length - 1 && buf[nl] === '\r') break; // a \n may follow in the next chunk
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + (buf.startsWith('\r\n', nl) ? 2 : 1));
      if (line === '') {
        if (msg.data.length > 0 || msg.event) yield { ...(msg.id !== undefined ? { id: msg.id } : {}), ...(msg.event ? { event: msg.event } : {}), data: msg.data.join('\n') };
        msg = { data: [] };
        continue;
      }
      if (line.startsWith(':')) continue;
      const i = line.indexOf(':');
      const field = i < 0 ? line : line.slice(0, i);
      const value = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
      if (field === 'data') msg.data.push(value);
      else if (field === 'id') msg.id = value;
      else if (field === 'event') msg.event = value;
    }
  }
}

export interface FollowOptions {
  /** Pause between polls when the server answers JSON instead of a stream. */
  pollMs: number;
  sleep?: (ms: number) => Promise<void>;
}

export type FollowMode = 'sse' | 'poll';

/**
 * Calls `onEvent` for every event of the run, oldest first, until the run has finished. Asks for
 * `text/event-stream`; a server that answers JSON instead is polled with `?after=<last id>`. A
 * stream that drops before the end is resumed with `Last-Event-ID`, so nothing is printed twice.
 */
export async function followEvents(client: ApiClient, runId: string, onEvent: (e: RunEvent) => void, o: FollowOptions): Promise<FollowMode> {
  const sleep = o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const path = `/v1/runs/${encodeURIComponent(runId)}/events`;
  let last: string | undefined;
  let mode: FollowMode = 'sse';
  const emit = (e: RunEvent) => {
    if (e.id) last = e.id;
    onEvent(e);
    return FINAL.has(e.type);
  };

  for (;;) {
    if (mode === 'poll') {
      const { body } = await client.json<RunEventsResponse>('GET', path, { query: { after: last } });
      if (body.events.map(emit).some(Boolean) || TERMINAL.has(body.status)) return mode;
      await sleep(o.pollMs);
      continue;
    }
    const ctl = new AbortController();
    try {
      let res: Response;
      try {
        res = await client.send('GET', client.url(path), {
          headers: { accept: 'text/event-stream', ...(last ? { 'last-event-id': last } : {}) }, signal: ctl.signal,
        });
      } catch (err) {
        if (!(err instanceof ApiError && NO_STREAM.has(err.status))) throw err;
        mode = 'poll';
        continue;
      }
      // the run has finished and nothing is left after Last-Event-ID
      if (res.status === 204) return mode;
      if (!(res.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
        // the server does not stream: take what it answered, then poll
        mode = 'poll';
        const body = (await res.json()) as RunEventsResponse;
        if (body.events.map(emit).some(Boolean) || TERMINAL.has(body.status)) return mode;
        await sleep(o.pollMs);
        continue;
      }
      for await (const m of parseSse(res.body!)) {
        let e: RunEvent;
        try {
          e = JSON.parse(m.data) as RunEvent;
        } catch {
          continue;
        }
        if (typeof e?.type !== 'string') continue;
        if (emit({ ...e, ...(m.id && !e.id ? { id: m.id } : {}) })) return mode;
      }
    } finally {
      ctl.abort(); // closes the stream when we stop reading early
    }
    // the stream closed without a final event: finished meanwhile, or a dropped connection
    const { body } = await client.json<{ status: string }>('GET', `/v1/runs/${encodeURIComponent(runId)}`);
    if (TERMINAL.has(body.status)) {
      // one JSON read picks up whatever the stream did not deliver
      const rest = await client.json<RunEventsResponse>('GET', path, { query: { after: last } });
      rest.body.events.forEach(emit);
      return 'sse';
    }
    await sleep(o.pollMs);
  }
}
