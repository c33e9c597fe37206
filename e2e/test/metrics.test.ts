import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { freePort, sample } from '../src/metrics.js';
import { System } from '../src/system.js';

const get = async (url: string) => {
  const res = await fetch(url);
  return { status: res.status, text: await res.text() };
};

describe('metrics (api + 2 workers with metrics ports, gateway-sim; real processes)', () => {
  const sys = new System({ workers: 0 });
  const workerUrls: string[] = [];
  beforeAll(() => sys.start());
  afterAll(() => sys.stop());

  it('curl /metrics after a few runs shows the per-graph/status counters with the right numbers', async () => {
    // no worker yet: this run is cancelled while queued, by the API alone
    const early = await sys.submit('release_check', { service: 'billing', version: '0.9.0' });
    expect((await sys.api('POST', `/v1/runs/${early}/cancel`, {})).body.status).toBe('cancelled');

    for (let i = 0; i < 2; i++) {
      const port = await freePort();
      const w = await sys.startWorker({ WORKER_METRICS_PORT: String(port) });
      expect((await w.waitFor(/worker_metrics_listening port=(\d+)/))[1]).toBe(String(port));
      workerUrls.push(`http://127.0.0.1:${port}`);
    }
    const ok = [
      await sys.submit('release_check', { service: 'billing', version: '1.4.2' }),
      await sys.submit('release_check', { service: 'billing', version: '2.0.0-bad' }), // a fail verdict is a succeeded run
    ];
    for (const id of ok) expect((await sys.waitStatus(id, ['succeeded', 'failed', 'cancelled'])).status).toBe('succeeded');
    await sys.simApi('PATCH', '/_sim/config', { malformed: { 'observability_tool.health': true } });
    const bad = await sys.submit('incident_triage', { service: 'weird' });
    expect((await sys.waitStatus(bad, ['succeeded', 'failed', 'cancelled'])).status).toBe('failed');
    await sys.simApi('PATCH', '/_sim/config', { malformed: null });

    const api = await get(`${sys.apiUrl}/metrics`);
    expect(api.status).toBe(200);
    const t = api.text;
    expect(sample(t, 'sup_runs_created_total', { graph: 'release_check' })).toBe(3);
    expect(sample(t, 'sup_runs_created_total', { graph: 'incident_triage' })).toBe(1);
    expect(sample(t, 'sup_runs_finished_total', { graph: 'release_check', status: 'succeeded' })).toBe(2);
    expect(sample(t, 'sup_runs_finished_total', { graph: 'release_check', status: 'cancelled' })).toBe(1);
    expect(sample(t, 'sup_runs_finished_total', { graph: 'release_check', status: 'failed' })).toBeUndefined();
    expect(sample(t, 'sup_runs_finished_total', { graph: 'incident_triage', status: 'failed' })).toBe(1);
    expect(sample(t, 'sup_queue_jobs', { queue: 'runs', state: 'completed' })).toBe(3);
    expect(sample(t, 'sup_queue_jobs', { queue: 'runs', state: 'waiting' })).toBe(0);

    // durations and gateway calls live in the workers that observed them: sum over both
    const scraped = await Promise.all(workerUrls.map((u) => get(`${u}/metrics`)));
    expect(scraped.map((s) => s.status)).toEqual([200, 200]);
    const sum = (name: string, labels: Record<string, string>) => scraped.reduce((n, s) => n + (sample(s.text, name, labels) ?? 0), 0);
    expect(sum('sup_run_duration_seconds_count', { graph: 'release_check', status: 'succeeded' })).toBe(2);
    expect(sum('sup_run_duration_seconds_count', { graph: 'incident_triage', status: 'failed' })).toBe(1);
    expect(sum('sup_node_duration_seconds_count', { graph: 'release_check', node: 'start_job', outcome: 'advanced' })).toBe(2);
    expect(sum('sup_gateway_calls_total', { tool: 'job_orchestrator_tool', action: 'start_task', outcome: 'ok' })).toBe(2);

    for (const u of workerUrls) expect(await get(`${u}/healthz`)).toEqual({ status: 200, text: '{"status":"ok","service":"worker"}' });
  });
});
