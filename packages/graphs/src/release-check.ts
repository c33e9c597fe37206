import { z } from 'zod';
import { clip, ToolError } from '@sup/contracts';
import { jittered } from './jitter.js';
import { malformedResult } from './tool-result.js';
import { END, refField, type GraphDefinition, type NodeContext, type NodeDef } from './types.js';

const TOOL = 'job_orchestrator_tool';
/** The most checks a release-check job may report; more is a malformed answer. */
export const MAX_CHECKS = 1_000;

export const ReleaseCheckInput = z.object({
  service: z.string().min(1).max(128).regex(/\S/, 'must not be blank'),
  version: z.string().min(1).max(64).regex(/\S/, 'must not be blank'),
  // as many as a job may report back (more is a malformed answer), each named once
  checks: z.array(z.string().min(1).max(128)).min(1).max(MAX_CHECKS)
    .refine((c) => new Set(c).size === c.length, 'names a check twice').optional(),
  timeout_sec: z.number().int().min(1).max(86_400).default(600),
});
export type ReleaseCheckInput = z.output<typeof ReleaseCheckInput>;

// Tool results are parsed leniently: extra fields are fine, missing required ones are not.
const StartResult = z.looseObject({ job_id: z.string().min(1).max(256) });
const JOB_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'cancelled'] as const;
const TaskResult = z.looseObject({
  status: z.enum(JOB_STATUSES),
  // refused before its items are checked when longer: a verdict needs every check, and their
  // details share DETAILS_TOTAL characters in the record
  checks: z.array(z.looseObject({ name: z.string(), status: z.string(), detail: z.unknown().optional() })).max(MAX_CHECKS).optional(),
  // a job that failed may say why: text, or {message}
  error: z.unknown().optional(),
});

/** The job's own error text (a string, or an object's message), clipped; undefined when none. */
function jobError(e: unknown): string | undefined {
  const text = typeof e === 'string' ? e : typeof (e as { message?: unknown } | null)?.message === 'string' ? (e as { message: string }).message : undefined;
  return text ? clip(text, 500) : undefined;
}
const PollState = z.object({ first_poll_ms: z.number(), polls: z.number().int(), job_id: z.string().optional() });

export interface Check { name: string; status: string; detail: string }
export interface StartOutput { job_id: string }
export interface PollOutput { job_id: string; status: 'succeeded' | 'failed' | 'cancelled'; checks: Check[]; error?: string }
export interface ReleaseVerdict {
  verdict: 'pass' | 'fail';
  service: string;
  version: string;
  job_id: string;
  job_status: PollOutput['status'];
  checks: Check[];
  failed_checks: string[];
  /** What the job said when it failed, if anything. */
  job_error?: string;
  summary: string;
}

type Ctx = NodeContext<ReleaseCheckInput>;

/**
 * A check's detail as text: at most DETAIL_MAX characters, and all details together at most
 * DETAILS_TOTAL (a job with many checks gets shorter details). Checks are in the record three times
 * (poll_job's output, the verdict, the run result): 1 000 checks stay well below RUN_RECORD_MAX_BYTES.
 */
export const DETAIL_MAX = 2_000;
export const DETAILS_TOTAL = 200_000;
const detailText = (d: unknown, max: number): string => clip(typeof d === 'string' ? d : d == null ? '' : JSON.stringify(d), max);

const startParams = ({ service, version, checks }: ReleaseCheckInput) => ({ task: 'release_check', service, version, ...(checks ? { checks } : {}) });

const startJob: NodeDef<ReleaseCheckInput> = {
  name: 'start_job',
  description: `${TOOL}.start_task with the release_check task`,
  policy: { timeoutMs: 30_000, retries: 3, backoffMs: 1_000 },
  refs: refField('job_id'),
  async run({ input, tools }: Ctx) {
    const res = await tools.call(TOOL, 'start_task', startParams(input));
    const parsed = StartResult.safeParse(res);
    if (!parsed.success) throw malformedResult(`${TOOL}.start_task`, parsed.error, 'no usable job_id');
    return { output: { job_id: parsed.data.job_id } satisfies StartOutput };
  },
};

const pollJob: NodeDef<ReleaseCheckInput> = {
  name: 'poll_job',
  description: `${TOOL}.get_task every JOB_POLL_INTERVAL_SEC (±10 %) until the job is done or timeout_sec passed`,
  policy: { timeoutMs: 30_000, retries: 5, backoffMs: 1_000 },
  // the wait state while the job runs, the output once it ended
  refs: refField('job_id'),
  async run({ runId, input, outputs, state, tools, now, settings }: Ctx) {
    const { job_id } = outputs.start_job as StartOutput;
    // the clock starts at the first poll and survives parks through the node-local state
    const prev = PollState.safeParse(state);
    const polls = (prev.success ? prev.data.polls : 0) + 1;
    const first_poll_ms = prev.success ? prev.data.first_poll_ms : now();

    const parsed = TaskResult.safeParse(await tools.call(TOOL, 'get_task', { job_id }));
    if (!parsed.success) throw malformedResult(`${TOOL}.get_task`, parsed.error, `a malformed result for job ${job_id}`, { job_id });
    const { status, checks = [] } = parsed.data;
    if (status === 'queued' || status === 'running') {
      const remainingMs = input.timeout_sec * 1000 - (now() - first_poll_ms);
      if (remainingMs <= 0) {
        // the run gives up on the job: stop it rather than leave it running for nobody (best effort)
        const cancel = await tools.call(TOOL, 'cancel_task', { job_id }).then(() => 'cancelled', () => 'cancel_failed');
        const said = cancel === 'cancelled' ? 'cancelled it' : 'cancelling it failed: cancel it by hand';
        throw new ToolError('job_timeout', `job ${job_id} still ${status} after ${input.timeout_sec}s (${polls} polls); ${said}`, false, { job_id, status, polls, cancel });
      }
      // ±10 % so runs started together do not poll together forever; never past the deadline:
      // the last poll lands on it
      const delayMs = Math.min(jittered(settings.jobPollIntervalMs, `${runId}:${polls}`), remainingMs);
      return { wait: { delayMs, state: { first_poll_ms, polls, job_id }, reason: 'job_running' } };
    }
    const detailMax = Math.min(DETAIL_MAX, Math.floor(DETAILS_TOTAL / Math.max(1, checks.length)));
    const error = status === 'succeeded' ? undefined : jobError(parsed.data.error);
    const out: PollOutput = { job_id, status, checks: checks.map((c) => ({ name: clip(c.name, 200), status: clip(c.status, 64), detail: detailText(c.detail, detailMax) })), ...(error ? { error } : {}) };
    return { output: out };
  },
};

/** Pure: pass only when the job succeeded and every check (including each one asked for) passed. */
export function verdictOf(input: ReleaseCheckInput, poll: PollOutput): ReleaseVerdict {
  const reported = new Set(poll.checks.map((c) => c.name));
  const missing = (input.checks ?? []).filter((n) => !reported.has(n)).map((name) => ({ name, status: 'missing', detail: 'not reported by the job' }));
  const checks = [...poll.checks, ...missing];
  const failed_checks = checks.filter((c) => c.status !== 'pass').map((c) => c.name);
  const verdict = poll.status === 'succeeded' && failed_checks.length === 0 ? 'pass' : 'fail';
  const target = `${input.service}@${input.version}`;
  const summary =
    verdict === 'pass'
      ? `release_check pass for ${target}: ${checks.length}/${checks.length} checks passed (job ${poll.job_id})`
      : `release_check fail for ${target}: job ${poll.job_id} ${poll.status}` + (poll.error ? ` (${poll.error})` : '') +
        (failed_checks.length ? `; ${failed_checks.length}/${checks.length} checks not passed: ${clip(failed_checks.join(', '), 2_000)}` : '');
  return { verdict, service: input.service, version: input.version, job_id: poll.job_id, job_status: poll.status, checks, failed_checks, ...(poll.error ? { job_error: poll.error } : {}), summary };
}

const result: NodeDef<ReleaseCheckInput> = {
  name: 'result',
  description: 'pass/fail verdict with per-check detail',
  policy: { timeoutMs: 5_000, retries: 0 },
  async run({ input, outputs }: Ctx) {
    return { output: verdictOf(input, outputs.poll_job as PollOutput) };
  },
};

export const releaseCheck: GraphDefinition<ReleaseCheckInput> = {
  name: 'release_check',
  description: 'Start a release-check job on the job orchestrator, poll it until done, and give a pass/fail verdict',
  input: ReleaseCheckInput,
  start: 'start_job',
  nodes: [startJob, pollJob, result],
  edges: [
    { from: 'start_job', to: 'poll_job' },
    { from: 'poll_job', to: 'result' },
    { from: 'result', to: END },
  ],
  result: ({ outputs }) => outputs.result,
  // a job is unfinished until poll_job has seen it end; cancelling a finished one would be noise
  async onCancel({ input, node, outputs, tools, resend }) {
    if (outputs.poll_job !== undefined) return;
    let job = StartResult.safeParse(outputs.start_job);
    // cancelled while start_task was in flight (its call aborted): the orchestrator may have created
    // the job. The same call again, with its key, answers that job (or starts it now) — cancel it.
    if (!job.success && node === 'start_job') job = StartResult.safeParse(await resend.call(TOOL, 'start_task', startParams(input as ReleaseCheckInput)));
    if (job.success) await tools.call(TOOL, 'cancel_task', { job_id: job.data.job_id });
  },
};
