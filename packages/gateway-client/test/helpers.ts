import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { EventEmitter, once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import { expect } from '@jest/globals';
import { createLogger, type Logger } from '@sup/logging';
import { ToolError, type ToolRequest } from '@sup/contracts';

export interface Seen { headers: IncomingMessage['headers']; body: string }
export type Handler = (req: IncomingMessage, res: ServerResponse, n: number) => void;

/** A real gateway double on port 0; each test sets `handler`, `seen` records every request. */
export class TestGateway extends EventEmitter {
  server: Server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      this.seen.push({ headers: req.headers, body });
      this.emit('request', req, res);
      this.handler(req, res, this.seen.length);
    });
  });
  seen: Seen[] = [];
  handler: Handler = (_q, res) => json(res, 200, { ok: true, result: {} });
  url = '';
  async start() {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }
  reset(handler: Handler) {
    this.seen = [];
    this.handler = handler;
  }
  async stop() {
    this.server.closeAllConnections();
    this.server.close();
    await once(this.server, 'close');
  }
}

export function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
}

/** A logger writing into memory; `until(re)` resolves once a line matches (no sleeping). */
export function captureLogs(): { logger: Logger; lines: string[]; until: (re: RegExp) => Promise<string> } {
  const stream = new PassThrough();
  const lines: string[] = [];
  const ev = new EventEmitter();
  let buf = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    buf += chunk;
    const parts = buf.split('\n');
    buf = parts.pop() ?? '';
    for (const l of parts) { lines.push(l); ev.emit('line', l); }
  });
  const until = (re: RegExp) => new Promise<string>((resolve) => {
    const hit = lines.find((l) => re.test(l));
    if (hit) return resolve(hit);
    const on = (l: string) => { if (re.test(l)) { ev.off('line', on); resolve(l); } };
    ev.on('line', on);
  });
  return { logger: createLogger({ service: 'test', stream }), lines, until };
}

export const request = (params: Record<string, unknown> = { query: 'q' }): ToolRequest => ({
  tool: 'kb_tool',
  action: 'search',
  params,
  context: { agent_id: 'sofiia', run_id: 'gr_abc123', node: 'overview', idempotency_key: 'gr_abc123:overview:0' },
});

/** The ToolError a call rejected with (fails the test if it resolved or threw something else). */
export async function failure(p: Promise<unknown>): Promise<ToolError> {
  const err = await p.then(() => { throw new Error('expected a rejection'); }, (e: unknown) => e);
  expect(err).toBeInstanceOf(ToolError);
  return err as ToolError;
}
