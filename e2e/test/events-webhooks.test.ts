import { createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { System } from '../src/system.js';
import { until } from '../src/procs.js';

const SECRET = 'e2e-webhook-secret';

/** Reads an SSE response to its end; `onEvent` sees each event as it arrives. */
async function readStream(res: Response, onEvent: (e: { id: string; event: string; data: any }) => void): Promise<void> {
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += value;
    let i: number;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const fields = Object.fromEntries(buf.slice(0, i).split('\n').filter((l) => !l.startsWith(':')).map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 2)]));
      buf = buf.slice(i + 2);
      if (fields.data) onEvent({ id: fields.id, event: fields.event, data: JSON.parse(fields.data) });
    }
  }
}

describe('live events and webhooks (api + worker + gateway-sim; real processes)', () => {
  // no worker at first: the follower is connected before the run starts
  const sys = new System({ workers: 0, workerEnv: { WEBHOOK_SECRET: SECRET }, simEnv: { SIM_JOB_DURATION_MS: '600' } });
  const hooks: { headers: IncomingHttpHeaders; raw: string }[] = [];
  const receiver = createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      hooks.push({ headers: req.headers, raw });
      res.writeHead(200).end();
    });
  });
  beforeAll(async () => {
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    await sys.start();
  });
  afterAll(async () => {
    await sys.stop();
    await new Promise((r) => receiver.close(r));
  });

  it('streams a release_check live to its end, then POSTs one signed webhook', async () => {
    const webhook = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    const created = await sys.api('POST', '/v1/graphs/release_check/runs', { agent_id: 'sofiia', input: { service: 'billing', version: '1.4.2' }, webhook });
    expect(created.status).toBe(202);
    const id = created.body.run_id as string;

    const res = await fetch(`${sys.apiUrl}/v1/runs/${id}/events`, { headers: { accept: 'text/event-stream' } });
    expect(res.status).toBe(200);
    const seen: { id: string; event: string; data: any }[] = [];
    const done = readStream(res, (e) => seen.push(e));
    await until('run_created on the stream', async () => seen.length > 0);
    await sys.startWorker();
    await done;

    const stored = (await sys.api('GET', `/v1/runs/${id}/events`)).body.events as { id: string; type: string }[];
    const last = stored.findIndex((e) => e.type === 'run_succeeded');
    expect(seen.map((e) => e.id)).toEqual(stored.slice(0, last + 1).map((e) => e.id));
    expect(seen.map((e) => e.event)).toEqual(expect.arrayContaining(['run_created', 'run_started', 'node_waiting', 'run_succeeded']));

    await until('webhook_delivered', async () => {
      const evs = (await sys.api('GET', `/v1/runs/${id}/events`)).body.events as { type: string }[];
      return evs.some((e) => e.type === 'webhook_delivered');
    });
    expect(hooks).toHaveLength(1);
    const { headers, raw } = hooks[0]!;
    const ts = headers['x-supervisor-timestamp'] as string;
    expect(headers['x-supervisor-signature']).toBe(`sha256=${createHmac('sha256', SECRET).update(`${ts}.${raw}`).digest('hex')}`);
    expect(JSON.parse(raw)).toMatchObject({ run_id: id, graph: 'release_check', status: 'succeeded', result: { verdict: 'pass' }, error: null });

    const listed = await sys.api('GET', '/v1/runs?graph=release_check&status=succeeded&limit=5');
    expect(listed.body.runs.map((r: { run_id: string }) => r.run_id)).toContain(id);
  });
});
