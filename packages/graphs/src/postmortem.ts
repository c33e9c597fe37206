import { clip } from '@sup/contracts';
import { maskDeep } from './redact.js';

/** Pure part of postmortem_draft: incident + triage → postmortem markdown and JSON. */

export interface TimelineEntry { ts: string | null; type: string; text: string }
export interface IncidentView {
  id: string;
  title: string;
  service: string;
  severity: string | null;
  status: string | null;
  started_at: string | null;
  resolved_at: string | null;
  timeline: TimelineEntry[];
  /** The incident's own triage, as the incident tool stores it (any shape), or null. */
  triage: Record<string, unknown> | null;
}

/** A triage in either shape we meet: our incident_triage report JSON, or what the incident tool keeps. */
export interface TriageView {
  severity: string | null;
  summary: string | null;
  suspected_cause: string | null;
  evidence: string[];
  next_steps: Array<{ title: string; owner?: string; due?: string }>;
}

export interface ActionItem { id: string; title: string; owner?: string; due?: string }
export interface PostmortemJson {
  incident_id: string;
  title: string;
  severity: string | null;
  summary: string;
  impact: string;
  timeline: TimelineEntry[];
  root_cause: string;
  evidence: string[];
  action_items: ActionItem[];
  triage_source: 'incident' | 'child_run';
  child_run_id?: string;
}
export interface Postmortem { markdown: string; json: PostmortemJson }

export const MAX_ACTION_ITEMS = 10;

const str = (v: unknown): string | null => (typeof v === 'string' && v.trim() ? v.trim() : typeof v === 'number' ? String(v) : null);

/** Evidence lines and next steps a triage view keeps (next steps are deduplicated to MAX_ACTION_ITEMS later). */
export const MAX_EVIDENCE = 20;
const MAX_NEXT_STEPS = 50;

/**
 * Lenient: missing or oddly typed fields become null or empty lists, never an error. Bounded: a
 * triage is kept in the run record and drafted into the postmortem, whatever size the tool sent.
 * A view is itself a valid input (triageView(triageView(x)) equals triageView(x)).
 */
export function triageView(raw: Record<string, unknown>): TriageView {
  const list = (v: unknown, max: number) => (Array.isArray(v) ? v.slice(0, max) : []);
  const text = (v: unknown, n: number) => { const t = str(v); return t === null ? null : clip(t, n); };
  const evidence = list(raw.evidence, MAX_EVIDENCE).flatMap((e) => {
    if (typeof e === 'string') return [clip(e, 500)];
    const o = (e ?? {}) as Record<string, unknown>;
    const summary = str(o.summary) ?? str(o.text);
    return summary ? [clip(str(o.source) ? `${str(o.source)}: ${summary}` : summary, 500)] : [];
  });
  const next_steps = list(raw.next_steps ?? raw.action_items, MAX_NEXT_STEPS).flatMap((s) => {
    if (typeof s === 'string') return s.trim() ? [{ title: clip(s.trim(), 300) }] : [];
    const o = (s ?? {}) as Record<string, unknown>;
    const title = text(o.title, 300) ?? text(o.text, 300);
    if (!title) return [];
    const owner = text(o.owner, 64);
    const due = text(o.due, 64);
    return [{ title, ...(owner ? { owner } : {}), ...(due ? { due } : {}) }];
  });
  return {
    severity: text(raw.severity, 32),
    summary: text(raw.summary, 2_000),
    suspected_cause: text(raw.suspected_cause, 2_000) ?? text(raw.root_cause, 2_000),
    evidence,
    next_steps,
  };
}

function duration(startedAt: string | null, resolvedAt: string | null): string {
  const s = startedAt ? Date.parse(startedAt) : NaN;
  const e = resolvedAt ? Date.parse(resolvedAt) : NaN;
  if (Number.isNaN(s)) return 'start time unknown';
  if (!resolvedAt) return `ongoing since ${startedAt}`;
  if (Number.isNaN(e) || e < s) return `from ${startedAt} to ${resolvedAt}`;
  return `${Math.round((e - s) / 60_000)} min, from ${startedAt} to ${resolvedAt}`;
}

/** Entries with a timestamp in time order; those without one keep their place at the end. */
function sortTimeline(t: TimelineEntry[]): TimelineEntry[] {
  const at = (x: TimelineEntry) => (x.ts && !Number.isNaN(Date.parse(x.ts)) ? Date.parse(x.ts) : Infinity);
  return t.map((x, i) => ({ x, i })).sort((a, b) => at(a.x) - at(b.x) || a.i - b.i).map(({ x }) => x);
}

export function postmortemMarkdown(j: PostmortemJson, inc: IncidentView): string {
  const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
  return [
    `# Postmortem: ${inc.title}`,
    '',
    `Incident ${j.incident_id} · service ${inc.service} · severity ${j.severity ?? 'unknown'}${inc.status ? ` · ${inc.status}` : ''}`,
    '',
    '## Summary', '', j.summary, '',
    '## Impact', '', j.impact, '',
    '## Timeline', '',
    ...(j.timeline.length ? ['| time | type | event |', '|---|---|---|', ...j.timeline.map((t) => `| ${t.ts ?? '?'} | ${cell(t.type)} | ${cell(t.text)} |`)] : ['No timeline recorded.']),
    '',
    '## Root cause', '', j.root_cause, '',
    ...(j.evidence.length ? ['## Evidence (from triage)', '', ...j.evidence.map((e) => `- ${e}`), ''] : []),
    '## Action items', '',
    ...j.action_items.map((a) => `- [ ] **${a.id}** ${a.title}${a.owner ? ` (owner: ${a.owner})` : ''}${a.due ? ` (due: ${a.due})` : ''}`),
    '',
    `_Triage: ${j.triage_source === 'child_run' ? `child run ${j.child_run_id ?? ''}`.trim() : 'recorded on the incident'}. Draft generated by the supervisor; review before publishing._`,
    '',
  ].join('\n');
}

/**
 * The postmortem draft. Root cause and action items come from the triage (its suspected cause
 * and next steps); with no next steps one action item asks to confirm the root cause. Free text is
 * masked like the triage report, since the draft becomes an incident artifact.
 */
export function buildPostmortem(inc: IncidentView, triage: TriageView, source: 'incident' | 'child_run', childRunId?: string): Postmortem {
  const severity = inc.severity ?? triage.severity;
  const rated = triage.severity && triage.severity !== inc.severity ? `; triage rated it ${triage.severity}` : '';
  const seen = new Set<string>();
  const items = triage.next_steps.filter((s) => !seen.has(s.title.toLowerCase()) && seen.add(s.title.toLowerCase())).slice(0, MAX_ACTION_ITEMS);
  const action_items = (items.length ? items : [{ title: `confirm the root cause of "${inc.title}" and add a regression test or alert for it` }])
    .map((s, i) => ({ id: `AI-${i + 1}`, ...s }));
  const json: PostmortemJson = maskDeep({
    incident_id: inc.id,
    title: `Postmortem: ${inc.title}`,
    severity,
    summary: triage.summary ?? `${inc.title} (${inc.service}).${triage.suspected_cause ? ` Suspected cause: ${triage.suspected_cause}.` : ''}`,
    impact: `${severity ?? 'Unrated'} incident on ${inc.service}: ${duration(inc.started_at, inc.resolved_at)}${rated}.`,
    timeline: sortTimeline(inc.timeline),
    root_cause: triage.suspected_cause ?? 'not determined yet: to be established in the review',
    evidence: triage.evidence,
    action_items,
    triage_source: source,
    ...(childRunId ? { child_run_id: childRunId } : {}),
  });
  return { markdown: postmortemMarkdown(json, maskDeep(inc)), json };
}
