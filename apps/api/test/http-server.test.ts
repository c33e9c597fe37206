import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Agent, request, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { createHttpServer, KEEP_ALIVE_TIMEOUT_MS } from '../src/http-server.js';

let server: Server;
let port = 0;
beforeAll(async () => {
  server = createHttpServer((_req, res) => res.end('ok'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((r) => {
  server.close(() => r());
  server.closeAllConnections();
}));

describe('the API\'s HTTP server', () => {
  it('keeps idle connections longer than a load balancer does (60 s), and tells clients so', async () => {
    const agent = new Agent({ keepAlive: true });
    const keepAlive = await new Promise<string | undefined>((resolve, reject) => {
      request({ port, host: '127.0.0.1', path: '/', agent }, (res) => {
        res.resume();
        res.on('end', () => resolve(String(res.headers['keep-alive'])));
      }).on('error', reject).end();
    });
    agent.destroy();
    expect(KEEP_ALIVE_TIMEOUT_MS).toBeGreaterThan(60_000);
    expect(keepAlive).toBe(`timeout=${KEEP_ALIVE_TIMEOUT_MS / 1000}`);
    expect(server.headersTimeout).toBeGreaterThan(server.keepAliveTimeout);
  });

  it('still answers what Node\'s parser refuses with a JSON error', async () => {
    const answer = await new Promise<string>((resolve, reject) => {
      const s = connect(port, '127.0.0.1', () => s.write('NOT A REQUEST\r\n\r\n'));
      let got = '';
      s.on('data', (b) => (got += b.toString()));
      s.on('end', () => resolve(got));
      s.on('error', reject);
    });
    expect(answer).toMatch(/^HTTP\/1\.1 400 [\s\S]*application\/json[\s\S]*"code":"bad_request"/);
  });
});
