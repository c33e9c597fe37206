import { afterEach, describe, expect, it } from '@jest/globals';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { CallRecord } from '../src/calls.js';
import { createSimApp, type SimOptions } from '../src/app.js';
import type { SimState } from '../src/state.js';
import { body } from './helpers.js';

/** Resolves with the first finished record matching `pred` (already finished or future). */
function finished(state: SimState, pred: (c: CallRecord) => boolean, timeoutMs = 10_000): Promise<CallRecord> {
  return new Promise((resolve, reject) => {
    const hit = state.calls.list({}, true).find((c) => c.outcome !== 'pending' && pred(c));
    if (hit) return resolve(hit);
    const timer = setTimeout(() => (off(), reject(new Error('no matching call recorded in time'))), timeoutMs);
    const off = state.calls.onFinish((c) => {
      if (pred(c)) (clearTimeout(timer), off(), resolve({ ...c }));
    });
  });
}

function post(port: number, payload: unknown) {
  const data = JSON.stringify(payload);
  const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/v1/tools/execute', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } });
  req.on('error', () => {}); // we destroy it on purpose
  req.end(data);
  return req;
}

describe('abort while the sim is waiting', () => {
  let server: http.Server | undefined;
  afterEach(async () => {
    server?.closeAllConnections();
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  });

  async function listen(config: SimOptions['config']) {
    const { app, state } = createSimApp({ config });
    server = app.listen(0, '127.0.0.1');
    await new Promise<void>((r) => server!.once('listening', () => r()));
    return { state, port: (server.address() as AddressInfo).port };
  }

  /** Waits until the sim has received (recorded as pending) the call, then destroys the client. */
  async function sendAndDestroy(state: SimState, port: number, payload: ReturnType<typeof body>) {
    const deadline = Date.now() + 10_000;
    const received = new Promise<void>((resolve, reject) => {
      const check = () => {
        if (state.calls.list({ idempotency_key: payload.context.idempotency_key }).length > 0) resolve();
        else if (Date.now() > deadline) reject(new Error('the sim never received the call'));
        else setImmediate(check);
      };
      check();
    });
    const req = post(port, payload);
    await received;
    req.destroy();
  }

  it('a hanging call (timeoutRate 1) is recorded aborted and never executed', async () => {
    const { state, port } = await listen({ timeoutRate: 1, hangMaxMs: 0 });
    const payload = body('incident_tool', 'append_event', { incident_id: 'inc_ab', type: 't', text: 'x' }, { idempotency_key: 'abort-1' });
    await sendAndDestroy(state, port, payload);
    const rec = await finished(state, (c) => c.idempotency_key === 'abort-1');
    expect(rec).toEqual(expect.objectContaining({ aborted: true, status: null, outcome: 'aborted', fault: 'timeout', executed: false }));
    expect(state.stores.incidents.size).toBe(0);
  });

  it('a call waiting on latency is recorded aborted', async () => {
    const { state, port } = await listen({ latencyByTool: { 'kb_tool.search': 600_000 } });
    const payload = body('kb_tool', 'search', { query: 'x' }, { idempotency_key: 'abort-2' });
    await sendAndDestroy(state, port, payload);
    const rec = await finished(state, (c) => c.idempotency_key === 'abort-2');
    expect(rec).toEqual(expect.objectContaining({ aborted: true, status: null, outcome: 'aborted', fault: null, latency_ms: 600_000 }));
    expect(state.calls.stats().aborted).toBe(1);
  });

  it('timeoutExecutes: the side effect happens, the answer is lost, the retry replays it', async () => {
    const { state, port } = await listen({ timeoutRate: 1, hangMaxMs: 0, timeoutExecutes: true });
    const payload = body('incident_tool', 'append_event', { incident_id: 'inc_lost', type: 't', text: 'x' }, { idempotency_key: 'lost-1' });
    await sendAndDestroy(state, port, payload);
    const first = await finished(state, (c) => c.idempotency_key === 'lost-1');
    expect(first).toEqual(expect.objectContaining({ aborted: true, executed: true, fault: 'timeout' }));
    expect(state.stores.incidents.get('inc_lost')!.timeline.filter((e) => e.type === 't')).toHaveLength(1);

    state.config.timeoutRate = 0;
    const res = await fetch(`http://127.0.0.1:${port}/v1/tools/execute`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(payload) });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { ok: boolean }).ok).toBe(true);
    const calls = state.calls.list({ idempotency_key: 'lost-1' });
    expect(calls.map((c) => [c.duplicate, c.outcome])).toEqual([
      [false, 'aborted'],
      [true, 'replayed'],
    ]);
    expect(state.stores.incidents.get('inc_lost')!.timeline.filter((e) => e.type === 't')).toHaveLength(1);
  });
});
