import type { Request, Response } from 'express';
import { AppError, FINAL_EVENT_TYPES, isTerminal, type RunEvent, type RunRecord } from '@sup/contracts';
import type { Logger } from '@sup/logging';
import type { EventPage, RunStore } from '@sup/run-store';
import type { EventFollower, FollowerSession } from './follower.js';

export interface StreamDeps {
  store: RunStore;
  follower: EventFollower;
  log: Logger;
}

const PAGE = 500;
const SSE_HEADERS = { 'Content-Type': 'text/event-stream; charset=utf-8', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' };

/**
 * One SSE response. Reads are serialized (one XRANGE in flight, another queued if a notification
 * arrives meanwhile), so events go out exactly once and in stream order. The stream ends after the
 * run's final event, or when a check finds the run finished (an operator's hand-SET writes no
 * event) or gone.
 */
class SseSession implements FollowerSession {
  private cursor: string | undefined;
  private running: Promise<void> | null = null;
  private started = false;
  private again = false;
  /** A heartbeat found the run finished or gone; taken up by the next read, not by one in flight. */
  private runEnded = false;
  private closed = false;
  private unregister: (() => void) | undefined;

  constructor(
    private readonly d: StreamDeps,
    private readonly res: Response,
    private readonly runId: string,
    private endWhenCaughtUp: boolean,
    after: string | undefined,
  ) {
    this.cursor = after;
  }

  async start(): Promise<void> {
    this.res.on('close', () => this.end());
    this.unregister = await this.d.follower.add(this.runId, this);
    if (this.closed) return this.unregister();
    let first: EventPage;
    try {
      first = await this.read();
    } catch (err) {
      // nothing sent yet: unregister without ending, so the error answer goes out as JSON
      this.closed = true;
      this.unregister();
      throw err;
    }
    if (this.closed) return; // the client left during the read
    // a finished run with nothing left to send: 204 tells EventSource to stop reconnecting
    if (first.events.length === 0 && first.read < PAGE && this.endWhenCaughtUp) {
      this.res.status(204).end();
      return this.end();
    }
    // X-Accel-Buffering: nginx would otherwise hold events back in its buffer
    this.res.writeHead(200, SSE_HEADERS);
    this.res.write(': following\n\n');
    if (this.sendPage(first)) return;
    if (first.read < PAGE && this.endWhenCaughtUp) return this.end();
    this.started = true;
    if (first.read === PAGE) this.again = true;
    this.kick();
  }

  notify(): void {
    this.again = true;
    this.kick();
  }

  heartbeat(ended: boolean): void {
    if (!this.started || this.closed) return;
    this.res.write(': keepalive\n\n');
    if (ended) this.runEnded = true;
    this.notify();
  }

  end(): void {
    if (this.closed) return;
    this.closed = true;
    this.unregister?.();
    if (!this.res.writableEnded) this.res.end();
  }

  private kick(): void {
    if (!this.started || this.running || this.closed || !this.again) return;
    this.running = this.drain()
      .catch((err: unknown) => {
        // a read that fails because the stream was ended meanwhile (shutdown, client gone) is no error
        if (!this.closed) this.d.log.warn('sse_stream_error', { run: this.runId, error: err instanceof Error ? err.message : String(err) });
        this.end();
      })
      .finally(() => {
        this.running = null;
        this.kick();
      });
  }

  private async drain(): Promise<void> {
    while (this.again && !this.closed) {
      this.again = false;
      // the status was read before this XRANGE, so what it finds is the rest of the log; a read
      // already in flight may have been made before the final commit and must not end the stream
      if (this.runEnded) this.endWhenCaughtUp = true;
      for (;;) {
        const page = await this.read();
        if (this.sendPage(page)) return;
        // a client that reads slowly holds the next read back, whatever the page size
        if (this.res.writableNeedDrain) await this.drained();
        if (page.read < PAGE) break;
      }
      if (this.endWhenCaughtUp) return this.end();
    }
  }

  private read(): Promise<EventPage> {
    return this.d.store.eventPage(this.runId, { ...(this.cursor ? { after: this.cursor } : {}), limit: PAGE });
  }

  /** Until the client took what was written, or left; no listener outlives the wait. */
  private drained(): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.res.off('drain', done).off('close', done);
        resolve();
      };
      this.res.on('drain', done).on('close', done);
    });
  }

  /**
   * Writes a page's events; true when one was the run's last (the stream is then ended). The
   * position moves past every entry read, so entries that are not events (added by hand) are
   * stepped over instead of read again.
   */
  private sendPage(page: EventPage): boolean {
    for (const e of page.events) if (this.send(e)) return true;
    if (page.last !== undefined) this.cursor = page.last;
    return false;
  }

  private send(e: RunEvent): boolean {
    if (this.closed) return true;
    this.res.write(`id: ${e.id}\nevent: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`);
    this.cursor = e.id;
    if (FINAL_EVENT_TYPES.includes(e.type)) {
      this.end();
      return true;
    }
    return false;
  }
}

/**
 * `GET /v1/runs/{id}/events` as Server-Sent Events: `id:` = stream id, `event:` = type, `data:` =
 * the event as JSON; `: keepalive` comments every heartbeat. Errors before the first byte (unknown
 * run, bad query or Last-Event-ID: routes/events-query.ts) are JSON like everywhere else. `after`
 * is an entry of the run's log (checked), or absent.
 */
export async function streamRunEvents(req: Request, res: Response, d: StreamDeps | undefined, rec: RunRecord, after: string | undefined): Promise<void> {
  if (!d) throw new AppError(503, 'streaming_unavailable', 'this API process was started without an event follower');
  // HEAD gets the headers of a stream and nothing to wait for (Node sends no body to a HEAD, so a
  // live session would hold the request open until the run ends)
  if (req.method === 'HEAD') return void res.writeHead(200, SSE_HEADERS).end();
  const session = new SseSession(d, res, rec.run_id, isTerminal(rec.status), after);
  await session.start();
}
