import { incidentTriage } from './incident-triage.js';
import { postmortemDraft } from './postmortem-draft.js';
import { releaseCheck } from './release-check.js';
import type { GraphDefinition } from './types.js';

export * from './types.js';
export { DETAIL_MAX, DETAILS_TOTAL, MAX_CHECKS, releaseCheck, ReleaseCheckInput, verdictOf } from './release-check.js';
export type { Check, PollOutput, ReleaseVerdict, StartOutput } from './release-check.js';
export { makeNoopGraph } from './noop.js';
export { jittered } from './jitter.js';
export { incidentTriage, IncidentTriageInput, kbQuery, MAX_ITEMS, TRIAGE_QUERY } from './incident-triage.js';
export {
  applyPrivacy, buildTriageReport, deployInWindow, severityOf, suspectedCause, THRESHOLDS, topError, triageMarkdown,
} from './triage-report.js';
export type * from './triage-report.js';
export { postmortemDraft, PostmortemDraftInput, cancelChildRun, CHILD_TIMEOUT_MS, TIMELINE_MAX } from './postmortem-draft.js';
export type { ArtifactsOutput, FollowupsOutput, TriageOutput } from './postmortem-draft.js';
export { buildPostmortem, postmortemMarkdown, triageView, MAX_ACTION_ITEMS, MAX_EVIDENCE } from './postmortem.js';
export type * from './postmortem.js';
export { maskDeep, maskText, redactor, stringsIn } from './redact.js';
export { malformedResult, MAX_ISSUES, parseResult } from './tool-result.js';

/** Every graph the system serves. Adding a graph is adding its module and one entry here. */
export const graphs: Record<string, GraphDefinition> = Object.fromEntries(
  [releaseCheck, incidentTriage, postmortemDraft].map((g): [string, GraphDefinition] => [g.name, g]),
);

export function getGraph(name: string): GraphDefinition | undefined {
  return Object.hasOwn(graphs, name) ? graphs[name] : undefined;
}
