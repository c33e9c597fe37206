import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { jsonClientErrors } from '../src/client-error.js';

let server: Server;
let port = 0;

beforeAll(async () => {
  server = createServer((_req, res) => res.end('ok'));
  jsonClientErrors(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

/** Sends raw bytes and reads the whole answer (the server closes the connection). */
function raw(request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => s.write(request));
    let got = '';
    s.on('data', (b) => (got += b.toString()));
    s.on('end', () => resolve(got));
    s.on('error', reject);
  });
}

const parse = (answer: string) => {
  const [head, body] = answer.split('\r\n\r\n');
  return { status: Number(head!.split(' ')[1]), type: /content-type: ([^\r]+)/i.exec(head!)?.[1], body: JSON.parse(body!) };
};

describe('requests Node refuses before Express', () => {
  it('headers over the limit answer 431 with a JSON error, not an empty body', async () => {
    const r = parse(await raw(`GET /v1/runs HTTP/1.1\r\nHost: x\r\nIdempotency-Key: ${'k'.repeat(100_000)}\r\n\r\n`));
    expect(r.status).toBe(431);
    expect(r.type).toMatch(/application\/json/);
    expect(r.body).toEqual({ error: { code: 'headers_too_large', message: expect.stringContaining('16 KiB'), details: null } });
  });

  it('a malformed request line answers 400 with a JSON error', async () => {
    const r = parse(await raw('NOT HTTP AT ALL\r\n\r\n'));
    expect([r.status, r.body.error.code]).toEqual([400, 'bad_request']);
  });

  it('a good request still reaches the app', async () => {
    expect(await raw('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')).toMatch(/\r\n\r\nok$/);
  });
});
