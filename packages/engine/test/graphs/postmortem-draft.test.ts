import { describe, expect, it, jest } from '@jest/globals';
import { compileGraph, progressOf, step, type StepOutcome } from '../../src/index.js';
import { CHILD_TIMEOUT_MS, jittered, postmortemDraft, PostmortemDraftInput, type ChildRuns } from '@sup/graphs';
import { catalogue, drive, fakeDeps, incident, summary } from './helpers.js';

const g = compileGraph(postmortemDraft);
const childReport = {
  markdown: '# Incident triage: payments — SEV1',
  json: {
    service: 'payments', severity: 'SEV1', suspected_cause: 'deploy v1.42.0 shortly before the error spike',
    evidence: [{ source: 'observability_tool.health', summary: 'down' }], next_steps: ['roll back v1.42.0', 'tell the owners', 'follow the runbook'],
  },
};
const done = (os: StepOutcome[]) => os.at(-1) as Extract<StepOutcome, { kind: 'succeeded' }>;

/** ChildRuns whose get() answers from a script of statuses (the last one repeats). */
function childRuns(statuses: string[], final: Partial<{ result: unknown; error: unknown }> = {}) {
  let i = 0;
  const runs = {
    start: jest.fn(async (_graph: string, _input: Record<string, unknown>) => ({ run_id: 'gr_child' })),
    get: jest.fn(async (run_id: string) => {
      const status = statuses[Math.min(i++, statuses.length - 1)]!;
      return { run_id, status, result: status === 'succeeded' ? (final.result ?? childReport) : null, error: final.error ?? null };
    }),
    cancel: jest.fn(async (_id: string, _reason: string) => {}),
    unfinished: jest.fn(async (): Promise<string[]> => []),
  };
  return runs satisfies ChildRuns;
}

describe('postmortem_draft through the engine', () => {
  it('takes only an incident_id', () => {
    expect(PostmortemDraftInput.safeParse({ incident_id: 'inc_1' }).success).toBe(true);
    expect(PostmortemDraftInput.safeParse({ incident_id: '' }).success).toBe(false);
  });

  it('uses the triage the incident has: no child run, artifacts attached, one follow-up per action item', async () => {
    const triage = { severity: 'SEV2', suspected_cause: 'pool exhausted', summary: 'payments 5xx', evidence: ['pool saturation'], next_steps: ['raise pool', 'add alert'] };
    const runs = childRuns(['succeeded']);
    const f = fakeDeps(catalogue({ 'incident_tool.get': (p) => ({ incident: incident(String(p.incident_id), triage), extra: 1 }) }), runs);
    const os = await drive(g, { incident_id: 'inc_triaged_1' }, f);
    expect(summary(os)).toEqual(['advanced:load_incident', 'advanced:ensure_triage', 'advanced:draft', 'advanced:attach_artifacts', 'succeeded:followups']);
    expect(runs.start).not.toHaveBeenCalled();
    expect(f.calls.map((c) => [c.action, c.params])).toEqual([
      ['get', { incident_id: 'inc_triaged_1' }],
      ['attach_artifact', { incident_id: 'inc_triaged_1', name: 'postmortem.md', content_type: 'text/markdown', content: expect.stringContaining('# Postmortem:') }],
      ['attach_artifact', { incident_id: 'inc_triaged_1', name: 'postmortem.json', content_type: 'application/json', content: expect.stringContaining('"triage_source": "incident"') }],
      ['append_event', { incident_id: 'inc_triaged_1', type: 'followup', text: 'AI-1: raise pool' }],
      ['append_event', { incident_id: 'inc_triaged_1', type: 'followup', text: 'AI-2: add alert' }],
    ]);
    expect(done(os).result).toMatchObject({
      incident_id: 'inc_triaged_1', triage_source: 'incident', artifact_ids: ['art_1', 'art_2'], event_ids: ['evt_1', 'evt_2'],
      postmortem: { root_cause: 'pool exhausted', summary: 'payments 5xx', timeline: [{ type: 'detected' }, { type: 'paged' }] },
    });
    expect(done(os).result).not.toHaveProperty('child_run_id');
  });

  it('starts one incident_triage child, waits for it parked, and drafts from its report', async () => {
    const runs = childRuns(['queued', 'running', 'succeeded']);
    const f = fakeDeps(catalogue(), runs);
    const os = await drive(g, { incident_id: 'inc_9' }, f);
    expect(summary(os)).toEqual([
      'advanced:load_incident', 'waiting:ensure_triage:child_run', 'waiting:ensure_triage:child_run', 'waiting:ensure_triage:child_run',
      'advanced:ensure_triage', 'advanced:draft', 'advanced:attach_artifacts', 'succeeded:followups',
    ]);
    // JOB_POLL_INTERVAL_SEC ±10 %, seeded by the child run id and the poll number
    expect(os.filter((o) => o.kind === 'waiting').map((o) => (o as { delayMs: number }).delayMs))
      .toEqual([0, 1, 2].map((n) => jittered(3_000, `gr_child:${n}`)));
    expect(runs.start).toHaveBeenCalledTimes(1);
    expect(runs.start).toHaveBeenCalledWith('incident_triage', { service: 'payments', incident_id: 'inc_9' });
    expect(runs.get).toHaveBeenCalledTimes(3);
    expect(os[4]).toMatchObject({ output: { source: 'child_run', child_run_id: 'gr_child', triage: childReport.json } });
    // the child is named in every park of ensure_triage and in its end (refs: events and `waiting`)
    expect(os.slice(1, 5).map((o) => o.refs)).toEqual(Array(4).fill({ child_run_id: 'gr_child' }));
    const appended = f.calls.filter((c) => c.action === 'append_event');
    expect(appended.map((c) => c.params.text)).toEqual(['AI-1: roll back v1.42.0', 'AI-2: tell the owners', 'AI-3: follow the runbook']);
    expect(new Set(appended.map((c) => c.idempotencyKey)).size).toBe(3);
    expect(done(os).result).toMatchObject({
      triage_source: 'child_run', child_run_id: 'gr_child', event_ids: ['evt_1', 'evt_2', 'evt_3'],
      postmortem: { root_cause: childReport.json.suspected_cause, evidence: ['observability_tool.health: down'], action_items: [{ id: 'AI-1' }, { id: 'AI-2' }, { id: 'AI-3' }] },
    });
  });

  it.each(['failed', 'cancelled'])('fails with child_run_failed naming the child when it is %s', async (status) => {
    const runs = childRuns(['running', status], { error: { code: 'malformed_result', message: 'health exploded' } });
    const f = fakeDeps(catalogue(), runs);
    const os = await drive(g, { incident_id: 'inc_9' }, f);
    expect(os.at(-1)).toMatchObject({
      kind: 'failed', node: 'ensure_triage',
      error: { code: 'child_run_failed', node: 'ensure_triage', message: `child run gr_child (incident_triage) ${status}: health exploded`, details: { child_run_id: 'gr_child', status } },
    });
    expect(f.calls.some((c) => c.action === 'attach_artifact')).toBe(false);
  });

  it('gives up on a child that never finishes, and cancels it', async () => {
    const runs = childRuns(['running']);
    const os = await drive(g, { incident_id: 'inc_9' }, fakeDeps(catalogue(), runs), CHILD_TIMEOUT_MS / 3_000 + 10);
    expect(os.at(-1)).toMatchObject({ kind: 'failed', error: { code: 'child_run_timeout', message: expect.stringContaining('gr_child') } });
    expect(runs.cancel).toHaveBeenCalledWith('gr_child', expect.any(String));
  });

  it('retries when the run store hiccups while reading the child', async () => {
    const runs = childRuns(['succeeded']);
    runs.get.mockRejectedValueOnce(new Error('Redis connection lost'));
    const os = await drive(g, { incident_id: 'inc_9' }, fakeDeps(catalogue(), runs));
    expect(summary(os)).toContain('waiting:ensure_triage:retry');
    expect(os.at(-1)!.kind).toBe('succeeded');
    expect(runs.start).toHaveBeenCalledTimes(1);
  });

  it('fails with malformed_result naming the node when a result is malformed', async () => {
    const cases: Array<[string, string, () => Record<string, unknown>]> = [
      ['load_incident', 'incident_tool.get', () => ({ incident: { id: 'inc_1', title: 'no service' } })],
      ['attach_artifacts', 'incident_tool.attach_artifact', () => ({ id: 'art' })],
      ['followups', 'incident_tool.append_event', () => ({ ok: true })],
    ];
    for (const [node, key, reply] of cases) {
      const f = fakeDeps(catalogue({ [key]: reply, 'incident_tool.get': key === 'incident_tool.get' ? reply : (p) => ({ incident: incident(String(p.incident_id), { summary: 's' }) }) }));
      const os = await drive(g, { incident_id: 'inc_1' }, f);
      expect(os.at(-1)).toMatchObject({ kind: 'failed', node, error: { code: 'malformed_result', node, message: expect.stringContaining(key) } });
    }
    const runs = childRuns(['succeeded'], { result: { nothing: 'here' } });
    const os = await drive(g, { incident_id: 'inc_1' }, fakeDeps(catalogue(), runs));
    expect(os.at(-1)).toMatchObject({ kind: 'failed', node: 'ensure_triage', error: { code: 'malformed_result', message: expect.stringContaining('gr_child') } });
  });

  describe('onCancel', () => {
    const ctx = (node: string | null, state: unknown, runs: ChildRuns) =>
      ({ runId: 'gr_parent', input: { incident_id: 'inc_9' }, outputs: {}, node, state, tools: { call: jest.fn(async () => ({})) }, resend: { call: jest.fn(async () => ({})) }, runs, signal: new AbortController().signal });

    it('cancels the child the parked ensure_triage waits for', async () => {
      const runs = childRuns(['running']);
      const { deps } = fakeDeps(catalogue(), runs);
      const loaded = await step(g, null, { incident_id: 'inc_9' }, deps);
      const parked = await step(g, JSON.parse(JSON.stringify(loaded.snapshot)), { incident_id: 'inc_9' }, deps);
      expect(parked).toMatchObject({ kind: 'waiting', node: 'ensure_triage' });
      // what the worker hands to onCancel, read back from the persisted snapshot
      const p = progressOf(g, JSON.parse(JSON.stringify(parked.snapshot)));
      await postmortemDraft.onCancel!(ctx(p.node, p.state, runs));
      expect(runs.cancel).toHaveBeenCalledWith('gr_child', 'parent cancelled');
    });

    it('cancels an unfinished child the parked state does not name: one started by a node the cancel cut short', async () => {
      const runs = childRuns(['running']);
      runs.unfinished.mockResolvedValue(['gr_unparked']);
      await postmortemDraft.onCancel!(ctx('ensure_triage', undefined, runs));
      expect(runs.cancel.mock.calls).toEqual([['gr_unparked', 'parent cancelled']]);
      // with a parked child too: each once
      runs.cancel.mockClear();
      runs.unfinished.mockResolvedValue(['gr_child']);
      await postmortemDraft.onCancel!(ctx('ensure_triage', { child_run_id: 'gr_child', first_wait_ms: 1, polls: 0 }, runs));
      expect(runs.cancel.mock.calls).toEqual([['gr_child', 'parent cancelled']]);
    });

    it('does nothing when no child was started', async () => {
      const runs = childRuns(['running']);
      await postmortemDraft.onCancel!(ctx('load_incident', undefined, runs));
      await postmortemDraft.onCancel!(ctx('ensure_triage', undefined, runs));
      await postmortemDraft.onCancel!(ctx(null, { child_run_id: 'gr_child', first_wait_ms: 1, polls: 0 }, runs));
      expect(runs.cancel).not.toHaveBeenCalled();
    });
  });
});
