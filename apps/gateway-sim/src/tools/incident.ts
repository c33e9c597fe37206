import { z } from 'zod';
import { pick } from '../rand.js';
import { EPOCH_MS, type ToolCtx, type ToolDef, fail, iso, ok, parseParams } from './common.js';

export interface TimelineEvent { event_id: string; ts: string; type: string; text: string; source: string }
export interface Artifact { artifact_id: string; name: string; content_type: string; size: number; content: unknown; created_at: string }
export interface Incident {
  id: string;
  title: string;
  service: string;
  severity: string;
  status: 'open' | 'resolved';
  started_at: string;
  resolved_at: string | null;
  timeline: TimelineEvent[];
  artifacts: Artifact[];
  triage: Record<string, unknown> | null;
}

const SERVICES = ['checkout', 'payments', 'search', 'auth', 'inventory'];
const SYMPTOMS = ['elevated 5xx error rate', 'p95 latency above 2s', 'partial outage after deploy', 'database connection pool exhausted'];

/**
 * Incidents exist for every id (built from the id on first use), except ids starting with
 * `inc_missing` (not found). Ids starting with `inc_triaged` come with a triage; an id containing
 * `open` is not resolved yet. A known service name inside the id (`inc_42_payments`) is used.
 */
function build(id: string): Incident {
  const service = SERVICES.find((s) => id.includes(s)) ?? SERVICES[pick(`svc:${id}`, 0, SERVICES.length - 1)]!;
  const symptom = SYMPTOMS[pick(`sym:${id}`, 0, SYMPTOMS.length - 1)]!;
  const severity = `SEV${pick(`sev:${id}`, 1, 3)}`;
  const start = EPOCH_MS - pick(`age:${id}`, 2, 72) * 3_600_000;
  const open = id.includes('open');
  const end = open ? null : start + pick(`dur:${id}`, 20, 180) * 60_000;
  const ev = (n: number, at: number, type: string, text: string): TimelineEvent => ({ event_id: `evt_${id}_${n}`, ts: iso(at), type, text, source: 'seed' });
  const timeline = [
    ev(1, start, 'detected', `Alert fired: ${service} ${symptom}`),
    ev(2, start + 4 * 60_000, 'paged', 'On-call engineer paged'),
    ev(3, start + 15 * 60_000, 'mitigation', 'Rolled back the latest deploy'),
    ...(end === null ? [] : [ev(4, end, 'resolved', 'Error rate back to baseline; incident resolved')]),
  ];
  const triage = id.startsWith('inc_triaged')
    ? {
        severity,
        suspected_cause: `Deploy of ${service} v1.${pick(`v:${id}`, 10, 40)}.0 exhausted the database connection pool`,
        summary: `${service}: ${symptom}`,
        evidence: [`error_rate peaked at ${pick(`e:${id}`, 5, 40)}%`, 'connection pool saturation in logs', 'traces show DB span timeouts'],
        next_steps: ['raise pool size temporarily', 'add a pool saturation alert', 'load-test the release before rollout'],
        created_at: iso(start + 10 * 60_000),
        source: 'gateway-sim',
      }
    : null;
  return {
    id,
    title: `${service}: ${symptom}`,
    service,
    severity,
    status: open ? 'open' : 'resolved',
    started_at: iso(start),
    resolved_at: end === null ? null : iso(end),
    timeline,
    artifacts: [],
    triage,
  };
}

const IncidentId = z.string().min(1);

/** What an incident keeps of what runs add to it: the newest artifacts and timeline events. */
export const MAX_ARTIFACTS = 100;
export const MAX_TIMELINE = 1_000;

function load(params: Record<string, unknown>, ctx: ToolCtx, extra: z.ZodRawShape = {}) {
  const p = parseParams(z.looseObject({ incident_id: IncidentId, ...extra }), params);
  if (!p.ok) return p;
  const id = p.value.incident_id as string;
  if (id.startsWith('inc_missing')) return { ok: false as const, outcome: fail('not_found', `incident ${id} not found`) };
  let inc = ctx.stores.incidents.get(id);
  if (!inc) ctx.stores.incidents.set(id, (inc = build(id)));
  return { ok: true as const, inc, params: p.value as Record<string, unknown> };
}

export const incidentTools: Record<string, ToolDef> = {
  'incident_tool.get': {
    sideEffect: false,
    run(params, ctx) {
      const l = load(params, ctx);
      if (!l.ok) return l.outcome;
      return ok({ incident: structuredClone(l.inc) });
    },
  },
  'incident_tool.attach_artifact': {
    sideEffect: true,
    run(params, ctx) {
      const l = load(params, ctx, {
        name: z.string().min(1),
        content_type: z.string().min(1),
        content: z.union([z.string(), z.record(z.string(), z.unknown()), z.array(z.unknown())]),
      });
      if (!l.ok) return l.outcome;
      const { name, content_type, content } = l.params as { name: string; content_type: string; content: unknown };
      const artifact_id = `art_${String(++ctx.stores.counters.artifacts).padStart(4, '0')}`;
      const size = Buffer.byteLength(typeof content === 'string' ? content : JSON.stringify(content));
      l.inc.artifacts.push({ artifact_id, name, content_type, size, content, created_at: iso(ctx.now()) });
      // an incident drafted again and again (a schedule's postmortem) keeps its newest ones only: every
      // `get` answers them in full, and they outgrew the worker's answer limit after ~200 drafts
      if (l.inc.artifacts.length > MAX_ARTIFACTS) l.inc.artifacts.splice(0, l.inc.artifacts.length - MAX_ARTIFACTS);
      return ok({ artifact_id, incident_id: l.inc.id, size });
    },
  },
  'incident_tool.append_event': {
    sideEffect: true,
    run(params, ctx) {
      const l = load(params, ctx, { type: z.string().min(1), text: z.string().min(1) });
      if (!l.ok) return l.outcome;
      const { type, text } = l.params as { type: string; text: string };
      const event_id = `evt_${String(++ctx.stores.counters.events).padStart(4, '0')}`;
      l.inc.timeline.push({ event_id, ts: iso(ctx.now()), type, text, source: 'api' });
      if (l.inc.timeline.length > MAX_TIMELINE) l.inc.timeline.splice(0, l.inc.timeline.length - MAX_TIMELINE);
      return ok({ event_id, incident_id: l.inc.id });
    },
  },
};
