import { get, type IncomingMessage } from 'node:http';

export interface SseEvent {
  id: string;
  event: string;
  data: { id: string; type: string; [k: string]: unknown };
}

/**
 * A minimal EventSource over node:http: parses `id:`/`event:`/`data:` blocks and `:` comments as
 * they arrive, so a test can wait on "n events seen" or "stream ended" instead of sleeping.
 */
export function follow(url: string, headers: Record<string, string> = { accept: 'text/event-stream' }) {
  const events: SseEvent[] = [];
  const comments: string[] = [];
  const waiters = new Set<() => void>();
  let buf = '';
  let ended = false;
  let response: IncomingMessage | undefined;
  let destroy = () => undefined as void;
  const wake = () => waiters.forEach((w) => w());
  const opened = new Promise<IncomingMessage>((resolve, reject) => {
    const req = get(url, { headers }, (res) => {
      response = res;
      resolve(res);
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buf += chunk;
        let i: number;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const fields: Record<string, string> = {};
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) comments.push(line.slice(1).trim());
            else {
              const c = line.indexOf(':');
              fields[line.slice(0, c)] = line.slice(c + 1).replace(/^ /, '');
            }
          }
          if (fields.data !== undefined) events.push({ id: fields.id!, event: fields.event!, data: JSON.parse(fields.data) });
        }
        wake();
      });
      res.on('end', () => {
        ended = true;
        wake();
      });
      res.on('close', () => {
        ended = true;
        wake();
      });
    });
    req.on('error', (err) => {
      ended = true;
      wake();
      reject(err);
    });
    destroy = () => void req.destroy();
  });

  function until(what: string, cond: () => boolean, timeoutMs = 10_000): Promise<void> {
    if (cond()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`timed out waiting for ${what}; saw ${events.map((e) => e.event).join(',')}${ended ? ' (ended)' : ''}`));
      }, timeoutMs);
      const check = () => {
        if (!cond()) return;
        clearTimeout(timer);
        waiters.delete(check);
        resolve();
      };
      waiters.add(check);
    });
  }

  const client = {
    events,
    comments,
    opened,
    get status() {
      return response?.statusCode;
    },
    get headers() {
      return response?.headers;
    },
    get ended() {
      return ended;
    },
    waitForEvents: (n: number, timeoutMs?: number) => until(`${n} events`, () => events.length >= n, timeoutMs),
    waitForEnd: (timeoutMs?: number) => until('the end of the stream', () => ended, timeoutMs),
    waitForComment: (text: string, timeoutMs?: number) => until(`comment ${text}`, () => comments.includes(text), timeoutMs),
    /** The client goes away (like closing the browser tab). */
    destroy: () => destroy(),
  };
  return client;
}
