import type { RunEvent, RunEventsResponse } from '@sup/contracts';
import { ApiError, runPath, shape, type ApiClient } from './client.js';

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

const eventsPath = (runId: string) => `${runPath(runId)}/events`;

/**
 * The run's events after `after` (all of them without it), page by page: a full page says where
 * the next starts (`next_after`), the last says null. An API from before next_after (2026-11-29)
 * answers one page.
 */
export async function* eventPages(client: ApiClient, runId: string, after?: string, first?: RunEventsResponse): AsyncGenerator<RunEventsResponse> {
  let page = first ?? (await client.json<RunEventsResponse>('GET', eventsPath(runId), { query: { after }, is: shape.events })).body;
  for (;;) {
    yield page;
    const next = page.next_after;
    // a server that names the page it was asked for again would keep us here for ever
    if (!next || next === after) return;
    after = next;
    page = (await client.json<RunEventsResponse>('GET', eventsPath(runId), { query: { after }, is: shape.events })).body;
  }
}

export interface FollowOptions {
  /** Pause between polls when the server answers JSON instead of a stream. */
  pollMs: number;
  /** How long the API may stay unreachable (restarting, Redis down) before following gives up. */
  giveUpMs?: number;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

export type FollowMode = 'sse' | 'poll';

/** What a restarting API, a proxy in front of it or a dropped connection look like. */
function transient(err: unknown): boolean {
  if (err instanceof ApiError) return err.status === 0 || err.status === 502 || err.status === 504 || (err.status === 503 && err.code !== 'streaming_unavailable');
  // fetch: a stream cut mid-read ("terminated", "other side closed")
  return err instanceof TypeError;
}

/**
 * Calls `onEvent` for every event of the run, oldest first, until the run has finished. Asks for
 * `text/event-stream`; a server that answers JSON instead is polled with `?after=<last id>`. A
 * stream that drops before the end is resumed with `Last-Event-ID`, so nothing is printed twice;
 * while the API cannot be reached (a restart) it tries again with backoff, for `giveUpMs` at most.
 */
export async function followEvents(client: ApiClient, runId: string, onEvent: (e: RunEvent) => void, o: FollowOptions): Promise<FollowMode> {
  const sleep = o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const now = o.now ?? Date.now;
  const giveUpMs = o.giveUpMs ?? 60_000;
  const path = eventsPath(runId);
  let last: string | undefined;
  let mode: FollowMode = 'sse';
  let down: { since: number; retries: number } | undefined;
  const emit = (e: RunEvent) => {
    down = undefined;
    if (e.id) last = e.id;
    onEvent(e);
    return FINAL.has(e.type);
  };

  /**
   * The JSON events after the last one printed, every page of them; true when the run has ended.
   * The status of the last page counts: a finished run's first page may not hold its end.
   */
  async function drain(first?: RunEventsResponse): Promise<boolean> {
    let status = '';
    for await (const page of eventPages(client, runId, last, first)) {
      down = undefined;
      if (page.events.map(emit).some(Boolean)) return true;
      status = page.status;
    }
    return TERMINAL.has(status);
  }

  /** One request (and its stream); true when the run has ended. */
  async function attempt(): Promise<boolean> {
    if (mode === 'poll') {
      if (await drain()) return true;
      await sleep(o.pollMs);
      return false;
    }
    const ctl = new AbortController();
    try {
      let res: Response;
      try {
        res = await client.send('GET', client.url(path), {
          headers: { accept: 'text/event-stream', ...(last ? { 'last-event-id': last } : {}) }, signal: ctl.signal,
        });
      } catch (err) {
        if (!(err instanceof ApiError && NO_STREAM.has(err.status) && !transient(err))) throw err;
        mode = 'poll';
        return false;
      }
      down = undefined;
      // the run has finished and nothing is left after Last-Event-ID
      if (res.status === 204) return true;
      if (!(res.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
        // the server does not stream: take what it answered, then poll
        mode = 'poll';
        if (await drain(await client.read<RunEventsResponse>(res, shape.events))) return true;
        await sleep(o.pollMs);
        return false;
      }
      for await (const m of parseSse(res.body!)) {
        let e: RunEvent;
        try {
          e = JSON.parse(m.data) as RunEvent;
        } catch {
          continue;
        }
        if (typeof e?.type !== 'string') continue;
        if (emit({ ...e, ...(m.id && !e.id ? { id: m.id } : {}) })) return true;
      }
    } finally {
      ctl.abort(); // closes the stream when we stop reading early
    }
    // the stream closed without a final event: finished meanwhile, or a dropped connection
    const { body } = await client.json<{ status: string }>('GET', runPath(runId), { is: shape.run });
    if (TERMINAL.has(body.status)) {
      // the JSON events pick up whatever the stream did not deliver
      await drain();
      return true;
    }
    await sleep(o.pollMs);
    return false;
  }

  for (;;) {
    try {
      if (await attempt()) return mode;
    } catch (err) {
      if (!transient(err)) throw err;
      down ??= { since: now(), retries: 0 };
      if (now() - down.since > giveUpMs) throw err instanceof ApiError ? err : new ApiError(0, 'unreachable', `lost the connection to the API: ${(err as Error).message}`);
      // 0.5 s, 1 s, 2 s, then every 5 s
      await sleep(Math.min(5_000, 500 * 2 ** down.retries++));
    }
  }
}
