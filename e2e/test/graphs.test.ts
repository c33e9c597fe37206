import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { System } from '../src/system.js';
import { until } from '../src/procs.js';

interface Call { run_id: string; node: string; action: string; outcome: string; params?: Record<string, unknown> }

const TRIAGE_NODES = ['overview', 'logs', 'health', 'traces', 'slo_context', 'privacy', 'cost', 'report'];
const finishedNodes = (events: { type: string; node?: string }[]) => events.filter((e) => e.type === 'node_finished').map((e) => e.node);

describe('incident_triage and postmortem_draft end to end', () => {
  const sys = new System({ workers: 2, workerEnv: { GATEWAY_TIMEOUT_MS: '300', GATEWAY_RETRIES: '0' } });
  beforeAll(() => sys.start());
  afterAll(() => sys.stop());

  it('incident_triage runs its nodes in order and reports severity, cause and evidence from the gateway data', async () => {
    const id = await sys.submit('incident_triage', { service: 'payments-degraded' });
    const run = await sys.waitStatus(id, ['succeeded', 'failed']);
    expect(run.status).toBe('succeeded');
    const ev = await sys.api('GET', `/v1/runs/${id}/events`);
    expect(finishedNodes(ev.body.events)).toEqual(TRIAGE_NODES);
    const { json, markdown } = run.result;
    expect(json.service).toBe('payments-degraded');
    expect(json.severity).toBe('SEV2'); // the sim reports a degraded service for this name
    expect(json.severity_reason).toMatch(/degraded/);
    expect(json.evidence.map((e: { source: string }) => e.source)).toEqual(expect.arrayContaining(['observability_tool.service_overview', 'observability_tool.health']));
    expect(json.kb_runbooks.length).toBeGreaterThan(0);
    expect(json.next_steps.length).toBeGreaterThan(0);
    expect(markdown).toContain('SEV2');
    // the privacy scan flags e-mail samples; none may reach the report verbatim
    const { calls } = await sys.simApi<{ calls: Call[] }>('GET', `/_sim/calls?run_id=${id}&action=privacy_scan`);
    expect(calls).toHaveLength(1);
    expect(json.privacy.pii_detected).toBe(true);
    expect(JSON.stringify(run.result)).not.toMatch(/@example\.com/);
  });

  it('postmortem_draft starts a child triage, waits for it without a slot, drafts, attaches 2 artifacts and appends one event per action item', async () => {
    const id = await sys.submit('postmortem_draft', { incident_id: 'inc_7_payments' });
    const run = await sys.waitStatus(id, ['succeeded', 'failed'], 90_000);
    expect(run.status).toBe('succeeded');
    const ev = await sys.api('GET', `/v1/runs/${id}/events`);
    expect(finishedNodes(ev.body.events)).toEqual(['load_incident', 'ensure_triage', 'draft', 'attach_artifacts', 'followups']);
    expect(ev.body.events.some((e: { type: string; data?: { reason?: string } }) => e.type === 'node_waiting' && e.data?.reason === 'child_run')).toBe(true);

    const childId = run.result.child_run_id as string;
    expect(childId).toMatch(/^gr_/);
    const child = await sys.run(childId);
    expect(child).toMatchObject({ graph: 'incident_triage', status: 'succeeded', parent_run_id: id, trigger: { type: 'parent' } });
    expect(run.result.triage_source).toBe('child_run');

    const { calls } = await sys.simApi<{ calls: Call[] }>('GET', `/_sim/calls?run_id=${id}&full=1`);
    const attaches = calls.filter((c) => c.action === 'attach_artifact');
    expect(attaches.map((c) => c.params?.name).sort()).toEqual(['postmortem.json', 'postmortem.md']);
    const items = run.result.postmortem.action_items as unknown[];
    expect(items.length).toBeGreaterThan(0);
    expect(calls.filter((c) => c.action === 'append_event')).toHaveLength(items.length);
    expect(run.result.markdown).toMatch(/root cause/i);
  });

  it('postmortem_draft uses an existing triage without a child run', async () => {
    const id = await sys.submit('postmortem_draft', { incident_id: 'inc_triaged_9_billing' });
    const run = await sys.waitStatus(id, ['succeeded', 'failed'], 60_000);
    expect(run.status).toBe('succeeded');
    expect(run.result.triage_source).toBe('incident');
    expect(run.result.child_run_id).toBeUndefined();
  });

  it('cancelling a parent waiting for its child cancels the child', async () => {
    await sys.simApi('PATCH', '/_sim/config', { latencyByTool: { 'observability_tool.traces_query': 30_000 } });
    const before = (await sys.simApi<{ calls: { seq: number }[] }>('GET', '/_sim/calls')).calls.at(-1)?.seq ?? 0;
    const id = await sys.submit('postmortem_draft', { incident_id: 'inc_8_search' });
    await sys.waitStatus(id, ['waiting']);
    // the child is the only other run calling the gateway since this parent was submitted
    const childId = await until('child run calling the gateway', async () => {
      const { calls } = await sys.simApi<{ calls: Call[] }>('GET', `/_sim/calls?since_seq=${before}&node=overview`);
      return calls.find((c) => c.run_id !== id)?.run_id;
    });
    const res = await sys.api('POST', `/v1/runs/${id}/cancel`, { reason: 'not needed' });
    expect(res.status).toBe(202);
    expect((await sys.waitStatus(id, ['cancelled'])).status).toBe('cancelled');
    const child = await sys.waitStatus(childId, ['cancelled', 'succeeded', 'failed']);
    expect(child.parent_run_id).toBe(id);
    expect(child.status).toBe('cancelled');
    await sys.simApi('PATCH', '/_sim/config', { latencyByTool: null });
  });

  it('retries exhausted on a timing-out tool fail the run naming the node', async () => {
    await sys.simApi('PATCH', '/_sim/config', { latencyByTool: { 'observability_tool.logs_query': 5_000 } });
    const id = await sys.submit('incident_triage', { service: 'slowlogs' });
    const run = await sys.waitStatus(id, ['succeeded', 'failed'], 90_000);
    await sys.simApi('PATCH', '/_sim/config', { latencyByTool: null });
    expect(run.status).toBe('failed');
    expect(run.error).toMatchObject({ code: 'gateway_timeout', node: 'logs' });
    expect(run.error.details.attempts).toBeGreaterThan(1);
    const ev = await sys.api('GET', `/v1/runs/${id}/events`);
    expect(ev.body.events.some((e: { type: string; node?: string }) => e.type === 'node_retry' && e.node === 'logs')).toBe(true);
  });

  it('a malformed tool result fails the run with a clear error, and the worker keeps serving', async () => {
    await sys.simApi('PATCH', '/_sim/config', { malformed: { 'observability_tool.health': true } });
    const id = await sys.submit('incident_triage', { service: 'weird' });
    const run = await sys.waitStatus(id, ['succeeded', 'failed']);
    await sys.simApi('PATCH', '/_sim/config', { malformed: null });
    expect(run.status).toBe('failed');
    expect(run.error).toMatchObject({ code: 'malformed_result', node: 'health' });
    expect(run.error.message).toMatch(/observability_tool\.health/);
    const next = await sys.submit('release_check', { service: 'after', version: '1' });
    expect((await sys.waitStatus(next, ['succeeded', 'failed'])).status).toBe('succeeded');
  });

  it('an unknown graph and an input failing its schema get 404 and 400', async () => {
    const unknown = await sys.api('POST', '/v1/graphs/nope/runs', { agent_id: 'sofiia', input: {} });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('graph_not_found');
    const bad = await sys.api('POST', '/v1/graphs/postmortem_draft/runs', { agent_id: 'sofiia', input: { incident: 1 } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details.map((d: { path: string }) => d.path)).toContain('incident_id');
  });
});
