import { z } from 'zod';
import { clip, ToolError } from '@sup/contracts';
import { IncidentTriageInput } from './incident-triage.js';
import { jittered } from './jitter.js';
import { buildPostmortem, triageView, type IncidentView, type Postmortem } from './postmortem.js';
import { parseResult, Text } from './tool-result.js';
import { END, refField, type ChildRuns, type GraphDefinition, type NodeContext, type NodeDef } from './types.js';

const TOOL = 'incident_tool';
const CHILD_GRAPH = 'incident_triage';
/** How long ensure_triage waits for its child triage run before giving up (and cancelling it). */
export const CHILD_TIMEOUT_MS = 30 * 60_000;

export const PostmortemDraftInput = z.object({ incident_id: z.string().min(1).max(128) });
export type PostmortemDraftInput = z.output<typeof PostmortemDraftInput>;

/**
 * An incident's timeline entries kept, and the characters of each entry's text. The timeline is in
 * the record five times (load_incident, the draft's JSON and markdown, the run result's two), so
 * ~120 KB each at most keeps the record far below RUN_RECORD_MAX_BYTES.
 */
export const TIMELINE_MAX = 200;
const TEXT_MAX = 500;
const clipOrNull = (s: string | null | undefined) => (s == null ? null : clip(s, 64));

const TimelineItem = z.union([Text, z.looseObject({ ts: Text.nullish(), at: Text.nullish(), type: Text.nullish(), text: Text.nullish(), message: Text.nullish() })]);
const IncidentResult = z.looseObject({
  incident: z.looseObject({
    id: Text,
    service: z.string().min(1),
    title: Text.nullish(),
    severity: Text.nullish(),
    status: Text.nullish(),
    started_at: Text.nullish(),
    resolved_at: Text.nullish(),
    // the first TIMELINE_MAX entries are kept, and only they are checked (a huge wrong list would cost
    // a worker one validation issue per entry)
    timeline: z.array(z.unknown()).transform((t) => t.slice(0, TIMELINE_MAX)).pipe(z.array(TimelineItem)).nullish(),
    triage: z.record(z.string(), z.unknown()).nullish(),
  }),
});
const ArtifactResult = z.looseObject({ artifact_id: Text });
const EventResult = z.looseObject({ event_id: Text });
const WaitState = z.object({ child_run_id: z.string(), first_wait_ms: z.number(), polls: z.number().int() });
const ChildReport = z.union([
  z.looseObject({ json: z.record(z.string(), z.unknown()) }).transform((r) => r.json),
  z.looseObject({ severity: z.string() }),
]);

export interface TriageOutput { source: 'incident' | 'child_run'; triage: Record<string, unknown>; child_run_id?: string }
export interface ArtifactsOutput { artifact_ids: string[]; artifacts: Array<{ name: string; artifact_id: string }> }
export interface FollowupsOutput { event_ids: string[] }

type Ctx = NodeContext<PostmortemDraftInput>;

/** Run-store hiccups are worth a retry; a ToolError already says whether it is. */
async function childCall<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof ToolError) throw err;
    throw new ToolError('child_runs_unavailable', `${what}: ${err instanceof Error ? err.message : String(err)}`, true);
  }
}


const loadIncident: NodeDef<PostmortemDraftInput> = {
  name: 'load_incident',
  description: `${TOOL}.get`,
  policy: { timeoutMs: 30_000, retries: 3, backoffMs: 1_000 },
  async run({ input, tools }: Ctx) {
    const { incident: i } = parseResult(IncidentResult, await tools.call(TOOL, 'get', { incident_id: input.incident_id }), `${TOOL}.get`);
    // kept in the record and drafted into the postmortem: bounded, whatever the tool sent
    const timeline = (i.timeline ?? []).map((t) => typeof t === 'string'
      ? { ts: null, type: 'note', text: clip(t, TEXT_MAX) }
      : { ts: clipOrNull(t.ts ?? t.at), type: clip(t.type ?? 'note', 64), text: clip(t.text ?? t.message ?? '', TEXT_MAX) });
    const out: IncidentView = {
      id: clip(i.id, 128), title: clip(i.title ?? `Incident ${i.id}`, 300), service: i.service, severity: clipOrNull(i.severity), status: clipOrNull(i.status),
      started_at: clipOrNull(i.started_at), resolved_at: clipOrNull(i.resolved_at), timeline,
      // the incident tool's triage in any shape and size: kept as its bounded view
      triage: i.triage ? { ...triageView(i.triage) } : null,
    };
    return { output: out };
  },
};

const ensureTriage: NodeDef<PostmortemDraftInput> = {
  name: 'ensure_triage',
  description: `the incident's triage, or an ${CHILD_GRAPH} child run waited for without holding a worker slot`,
  policy: { timeoutMs: 20_000, retries: 5, backoffMs: 1_000 },
  // the wait state, or the output of a triage that came from a child
  refs: refField('child_run_id'),
  async run({ input, outputs, state, runs, now, settings }: Ctx) {
    const inc = outputs.load_incident as IncidentView;
    if (inc.triage) return { output: { source: 'incident', triage: inc.triage } satisfies TriageOutput };
    // the poll interval ±10 % (as release_check's), so parents started together do not poll together
    const park = (s: z.infer<typeof WaitState>) => ({ wait: { delayMs: jittered(settings.jobPollIntervalMs, `${s.child_run_id}:${s.polls}`), state: s, reason: 'child_run' } });

    const prev = WaitState.safeParse(state);
    if (!prev.success) {
      const childInput = { service: inc.service, incident_id: input.incident_id };
      if (!IncidentTriageInput.safeParse(childInput).success) {
        throw new ToolError('malformed_result', `${TOOL}.get returned a service ${CHILD_GRAPH} does not accept`, false, { service: clip(inc.service, 200) });
      }
      // idempotent per parent and graph: a re-run of this node finds the child it started
      const { run_id } = await childCall(`starting ${CHILD_GRAPH}`, () => runs.start(CHILD_GRAPH, childInput));
      return park({ child_run_id: run_id, first_wait_ms: now(), polls: 0 });
    }

    const { child_run_id, first_wait_ms, polls } = prev.data;
    const child = await childCall(`reading child run ${child_run_id}`, () => runs.get(child_run_id));
    const name = `child run ${child_run_id} (${CHILD_GRAPH})`;
    if (!child) throw new ToolError('child_run_failed', `${name} no longer exists`, false, { child_run_id });
    if (child.status === 'succeeded') {
      const report = ChildReport.safeParse(child.result);
      if (!report.success) throw new ToolError('malformed_result', `${name} succeeded without a triage report`, false, { child_run_id });
      return { output: { source: 'child_run', triage: report.data, child_run_id } satisfies TriageOutput };
    }
    if (child.status === 'failed' || child.status === 'cancelled') {
      const why = (child.error as { message?: unknown } | null)?.message;
      throw new ToolError('child_run_failed', `${name} ${child.status}${typeof why === 'string' ? `: ${clip(why, 500)}` : ''}`, false,
        { child_run_id, status: child.status, error: child.error });
    }
    if (now() - first_wait_ms >= CHILD_TIMEOUT_MS) {
      await runs.cancel(child_run_id, 'parent stopped waiting').catch(() => {}); // best effort; the failure below is what matters
      throw new ToolError('child_run_timeout', `${name} still ${child.status} after ${CHILD_TIMEOUT_MS / 60_000} min`, false, { child_run_id, status: child.status });
    }
    return park({ child_run_id, first_wait_ms, polls: polls + 1 });
  },
};

const draft: NodeDef<PostmortemDraftInput> = {
  name: 'draft',
  description: 'postmortem markdown + JSON: summary, impact, timeline, root cause, action items',
  policy: { timeoutMs: 5_000, retries: 0 },
  async run({ outputs }: Ctx) {
    const t = outputs.ensure_triage as TriageOutput;
    return { output: buildPostmortem(outputs.load_incident as IncidentView, triageView(t.triage), t.source, t.child_run_id) };
  },
};

const attachArtifacts: NodeDef<PostmortemDraftInput> = {
  name: 'attach_artifacts',
  description: `${TOOL}.attach_artifact: postmortem.md and postmortem.json`,
  policy: { timeoutMs: 30_000, retries: 3, backoffMs: 2_000 },
  async run({ input: { incident_id }, outputs, tools }: Ctx) {
    const { markdown, json } = outputs.draft as Postmortem;
    const files = [
      { name: 'postmortem.md', content_type: 'text/markdown', content: markdown },
      { name: 'postmortem.json', content_type: 'application/json', content: JSON.stringify(json, null, 2) },
    ];
    const artifacts: ArtifactsOutput['artifacts'] = [];
    for (const f of files) {
      const r = parseResult(ArtifactResult, await tools.call(TOOL, 'attach_artifact', { incident_id, ...f }), `${TOOL}.attach_artifact`);
      artifacts.push({ name: f.name, artifact_id: r.artifact_id });
    }
    return { output: { artifact_ids: artifacts.map((a) => a.artifact_id), artifacts } satisfies ArtifactsOutput };
  },
};

const followups: NodeDef<PostmortemDraftInput> = {
  name: 'followups',
  description: `${TOOL}.append_event: one follow-up per action item`,
  policy: { timeoutMs: 60_000, retries: 3, backoffMs: 2_000 },
  async run({ input: { incident_id }, outputs, tools }: Ctx) {
    const event_ids: string[] = [];
    // one after another: the call index is part of each call's idempotency key
    for (const a of (outputs.draft as Postmortem).json.action_items) {
      const text = `${a.id}: ${a.title}${a.owner ? ` (owner: ${a.owner})` : ''}${a.due ? ` (due: ${a.due})` : ''}`;
      const r = parseResult(EventResult, await tools.call(TOOL, 'append_event', { incident_id, type: 'followup', text }), `${TOOL}.append_event`);
      event_ids.push(r.event_id);
    }
    return { output: { event_ids } satisfies FollowupsOutput };
  },
};

/** Cancels the child triage run the parked ensure_triage is waiting for, if there is one. */
export async function cancelChildRun(node: string | null, state: unknown, runs: ChildRuns): Promise<void> {
  // the child the parked node waits for, and any other unfinished child: one started by a node the
  // cancel cut short before it parked is in the index, not in the wait state
  const ids = new Set(await runs.unfinished());
  const s = WaitState.safeParse(state);
  if (node === 'ensure_triage' && s.success) ids.add(s.data.child_run_id);
  for (const id of ids) await runs.cancel(id, 'parent cancelled');
}

const ORDER = [loadIncident, ensureTriage, draft, attachArtifacts, followups];

export const postmortemDraft: GraphDefinition<PostmortemDraftInput> = {
  name: 'postmortem_draft',
  description: 'Load an incident, make sure it has a triage (child incident_triage run if not), draft a postmortem, attach it and add follow-ups',
  input: PostmortemDraftInput,
  start: 'load_incident',
  nodes: ORDER,
  edges: ORDER.map((n, i) => ({ from: n.name, to: ORDER[i + 1]?.name ?? END })),
  result: ({ input, outputs }) => {
    const t = outputs.ensure_triage as TriageOutput;
    const d = outputs.draft as Postmortem;
    return {
      incident_id: input.incident_id,
      triage_source: t.source,
      ...(t.child_run_id ? { child_run_id: t.child_run_id } : {}),
      artifact_ids: (outputs.attach_artifacts as ArtifactsOutput).artifact_ids,
      event_ids: (outputs.followups as FollowupsOutput).event_ids,
      postmortem: d.json,
      markdown: d.markdown,
    };
  },
  onCancel: ({ node, state, runs }) => cancelChildRun(node, state, runs),
};
