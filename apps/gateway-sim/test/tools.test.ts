import { describe, expect, it } from '@jest/globals';
import { call, sim } from './helpers.js';

const str = expect.any(String);
const num = expect.any(Number);

describe('tool catalogue shapes', () => {
  const { app } = sim();

  it('job_orchestrator_tool.start_task / get_task / cancel_task', async () => {
    const s = await call(app, 'job_orchestrator_tool', 'start_task', { task: 'release_check', service: 'checkout', version: '1.2.3' });
    expect(s.status).toBe(200);
    expect(s.body).toEqual({ ok: true, result: expect.objectContaining({ job_id: str }) });
    const job_id = s.body.result.job_id as string;
    const g = await call(app, 'job_orchestrator_tool', 'get_task', { job_id });
    expect(g.body.result).toEqual(expect.objectContaining({ job_id, status: 'queued', checks: [] }));
    const c = await call(app, 'job_orchestrator_tool', 'cancel_task', { job_id });
    expect(c.body.result).toEqual(expect.objectContaining({ job_id, status: 'cancelled' }));
  });

  it('observability_tool.service_overview', async () => {
    const r = await call(app, 'observability_tool', 'service_overview', { service: 'checkout', window_min: 60 });
    expect(r.body.ok).toBe(true);
    expect(r.body.result).toEqual(expect.objectContaining({ service: 'checkout', error_rate: num, p95_ms: num, rps: num, recent_deploys: expect.any(Array) }));
  });

  it('observability_tool.logs_query', async () => {
    const r = await call(app, 'observability_tool', 'logs_query', { service: 'payments-degraded', window_min: 30, level: 'error', limit: 5 });
    expect(r.body.result).toEqual(expect.objectContaining({ lines: expect.any(Array), total: num }));
    expect(r.body.result.lines.length).toBeLessThanOrEqual(5);
    for (const l of r.body.result.lines) expect(l).toEqual(expect.objectContaining({ ts: str, level: 'error', msg: str }));
  });

  it('observability_tool.health follows the service name', async () => {
    for (const [service, status] of [['checkout', 'healthy'], ['search-degraded', 'degraded'], ['auth-down', 'down']]) {
      const r = await call(app, 'observability_tool', 'health', { service });
      expect(r.body.result).toEqual(expect.objectContaining({ status, checks: expect.any(Array) }));
    }
  });

  it('observability_tool.traces_query', async () => {
    const r = await call(app, 'observability_tool', 'traces_query', { service: 'checkout', window_min: 60, min_duration_ms: 500 });
    expect(r.body.result.traces.length).toBeGreaterThan(0);
    for (const t of r.body.result.traces) {
      expect(t).toEqual(expect.objectContaining({ trace_id: str, duration_ms: num, root: str }));
      expect(t.duration_ms).toBeGreaterThanOrEqual(500);
    }
  });

  it('observability_tool.slo_status', async () => {
    const r = await call(app, 'observability_tool', 'slo_status', { service: 'checkout' });
    for (const s of r.body.result.slos) expect(s).toEqual(expect.objectContaining({ name: str, objective: num, current: num, burn_rate: num }));
  });

  it('kb_tool.search', async () => {
    const r = await call(app, 'kb_tool', 'search', { query: 'high error rate after deploy', limit: 3 });
    expect(r.body.result.hits.length).toBeGreaterThan(0);
    expect(r.body.result.hits.length).toBeLessThanOrEqual(3);
    for (const h of r.body.result.hits) expect(h).toEqual(expect.objectContaining({ title: str, url: str, snippet: str }));
  });

  it('data_governance_tool.privacy_scan returns findings with a fake e-mail sample', async () => {
    const r = await call(app, 'data_governance_tool', 'privacy_scan', { service: 'checkout', sources: ['logs'] });
    expect(r.body.result.pii_detected).toBe(true);
    const f = r.body.result.findings[0];
    expect(f).toEqual(expect.objectContaining({ type: 'email', count: num, source: 'logs' }));
    expect(f.sample).toMatch(/^[a-z]+\.[a-z]+\d+@example\.com$/);
    const clean = await call(app, 'data_governance_tool', 'privacy_scan', { service: 'clean-svc', sources: ['logs'] });
    expect(clean.body.result).toEqual(expect.objectContaining({ pii_detected: false, findings: [] }));
  });

  it('cost_tool.cost_report', async () => {
    const r = await call(app, 'cost_tool', 'cost_report', { service: 'checkout', window_days: 7 });
    expect(r.body.result).toEqual(expect.objectContaining({ daily_cost: num, trend_pct: num, anomalies: [] }));
    const spike = await call(app, 'cost_tool', 'cost_report', { service: 'checkout-spike', window_days: 7 });
    expect(spike.body.result.anomalies).toHaveLength(1);
  });

  it('incident_tool.get: plain, triaged and missing', async () => {
    const plain = await call(app, 'incident_tool', 'get', { incident_id: 'inc_001' });
    expect(plain.body.result.incident).toEqual(
      expect.objectContaining({ id: 'inc_001', title: str, service: str, severity: str, started_at: str, timeline: expect.any(Array), artifacts: [], triage: null }),
    );
    expect('resolved_at' in plain.body.result.incident).toBe(true);
    const triaged = await call(app, 'incident_tool', 'get', { incident_id: 'inc_triaged_payments' });
    expect(triaged.body.result.incident.triage).toEqual(expect.objectContaining({ severity: str, suspected_cause: str }));
    expect(triaged.body.result.incident.service).toBe('payments');
    const missing = await call(app, 'incident_tool', 'get', { incident_id: 'inc_missing_1' });
    expect(missing.status).toBe(200);
    expect(missing.body).toEqual({ ok: false, error: expect.objectContaining({ code: 'not_found', message: str }) });
  });

  it('incident_tool.attach_artifact / append_event are visible on a later get', async () => {
    const a = await call(app, 'incident_tool', 'attach_artifact', { incident_id: 'inc_002', name: 'postmortem.md', content_type: 'text/markdown', content: '# Postmortem' });
    expect(a.body.result).toEqual(expect.objectContaining({ artifact_id: str }));
    const e = await call(app, 'incident_tool', 'append_event', { incident_id: 'inc_002', type: 'followup', text: 'add alert' });
    expect(e.body.result).toEqual(expect.objectContaining({ event_id: str }));
    const g = await call(app, 'incident_tool', 'get', { incident_id: 'inc_002' });
    const inc = g.body.result.incident;
    expect(inc.artifacts).toEqual([expect.objectContaining({ artifact_id: a.body.result.artifact_id, name: 'postmortem.md', content_type: 'text/markdown', content: '# Postmortem' })]);
    expect(inc.timeline.at(-1)).toEqual(expect.objectContaining({ event_id: e.body.result.event_id, type: 'followup', text: 'add alert' }));
    const missing = await call(app, 'incident_tool', 'append_event', { incident_id: 'inc_missing_x', type: 't', text: 'x' });
    expect(missing.body.error.code).toBe('not_found');
  });

  it('data is deterministic: same params, same result', async () => {
    const a = await call(app, 'observability_tool', 'traces_query', { service: 'search', window_min: 15, min_duration_ms: 0 });
    const b = await call(app, 'observability_tool', 'traces_query', { service: 'search', window_min: 15, min_duration_ms: 0 });
    expect(a.body).toEqual(b.body);
  });

  it('bad params are a tool error (200, ok:false invalid_params)', async () => {
    const r = await call(app, 'observability_tool', 'health', {});
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ ok: false, error: expect.objectContaining({ code: 'invalid_params' }) });
  });

  it('unknown tool or action → 404 {ok:false, error:{code:"unknown_tool"}}', async () => {
    for (const [t, a] of [['nope_tool', 'x'], ['kb_tool', 'delete_everything']]) {
      const r = await call(app, t!, a!, {});
      expect(r.status).toBe(404);
      expect(r.body).toEqual({ ok: false, error: expect.objectContaining({ code: 'unknown_tool' }) });
    }
  });
});
