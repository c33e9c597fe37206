import { z } from 'zod';
import { hex, pick } from '../rand.js';
import { type ToolDef, type ToolCtx, fail, iso, ok, parseParams } from './common.js';

/** A release-check job of the fake job orchestrator. */
export interface Job {
  job_id: string;
  task: string;
  service: string;
  version: string;
  checks: string[];
  created_ms: number;
  duration_ms: number;
  cancelled_ms: number | null;
}

export type JobStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';

export const DEFAULT_CHECKS = ['unit', 'integration', 'security', 'migrations'];

/** Share of the duration a job stays `queued`. */
const QUEUED_SHARE = 0.1;

function checkResult(job: Job, name: string) {
  const failed = job.version.includes('bad') || name.includes('fail');
  const n = pick(`${job.service}:${job.version}:${name}`, 12, 480);
  if (!failed) return { name, status: 'pass' as const, detail: `${n} ${name} checks passed` };
  const why = name.includes('fail') ? `check name contains "fail"` : `version contains "bad"`;
  return { name, status: 'fail' as const, detail: `${pick(`f:${job.version}:${name}`, 1, 9)} of ${n} ${name} checks failed (simulated: ${why})` };
}

/**
 * Status is a pure function of the clock: queued for the first 10 % of the duration, then running
 * (checks complete one by one), then succeeded — or failed when the version contains "crash".
 */
export function jobView(job: Job, now: number) {
  const d = job.duration_ms;
  const queuedFor = d * QUEUED_SHARE;
  const n = job.checks.length;
  const crashes = job.version.includes('crash');
  /** Checks completed after `elapsed` ms: check i completes at queuedFor + (i + 1) * (d - queuedFor) / n. */
  const doneAfter = (elapsed: number) =>
    elapsed <= queuedFor || n === 0 ? 0 : Math.min(n, Math.floor(((elapsed - queuedFor) * n) / Math.max(1, d - queuedFor)));
  const elapsed = now - job.created_ms;
  let status: JobStatus;
  let done: number;
  if (job.cancelled_ms !== null) {
    status = 'cancelled';
    done = doneAfter(job.cancelled_ms - job.created_ms);
  } else if (elapsed < queuedFor) {
    status = 'queued';
    done = 0;
  } else if (elapsed < d) {
    status = 'running';
    done = doneAfter(elapsed);
  } else {
    status = crashes ? 'failed' : 'succeeded';
    done = n;
  }
  if (crashes) done = Math.min(done, Math.max(0, n - 1)); // a crashing job never finishes its last check
  const checks = job.checks.slice(0, done).map((c) => checkResult(job, c));
  return {
    job_id: job.job_id,
    task: job.task,
    service: job.service,
    version: job.version,
    status,
    checks,
    progress: n === 0 ? 1 : Number((done / n).toFixed(2)),
    created_at: iso(job.created_ms),
    ...(status === 'succeeded' || status === 'failed' ? { finished_at: iso(job.created_ms + d) } : {}),
    ...(status === 'cancelled' ? { cancelled_at: iso(job.cancelled_ms ?? now) } : {}),
    ...(status === 'failed' ? { error: 'release-check runner crashed (simulated: version contains "crash")' } : {}),
  };
}

const StartParams = z.looseObject({
  task: z.literal('release_check'),
  service: z.string().min(1),
  version: z.string().min(1),
  checks: z.array(z.string().min(1)).min(1).optional(),
});
const JobParams = z.looseObject({ job_id: z.string().min(1) });

function findJob(params: Record<string, unknown>, ctx: ToolCtx) {
  const p = parseParams(JobParams, params);
  if (!p.ok) return p;
  const job = ctx.stores.jobs.get(p.value.job_id);
  if (!job) return { ok: false as const, outcome: fail('not_found', `job ${p.value.job_id} not found`) };
  return { ok: true as const, job };
}

export const orchestratorTools: Record<string, ToolDef> = {
  'job_orchestrator_tool.start_task': {
    sideEffect: true,
    run(params, ctx) {
      const p = parseParams(StartParams, params);
      if (!p.ok) return p.outcome;
      const { task, service, version } = p.value;
      const n = ++ctx.stores.counters.jobs;
      const job: Job = {
        job_id: `job_${String(n).padStart(4, '0')}_${hex(`${service}:${version}:${n}`, 8)}`,
        task,
        service,
        version,
        checks: p.value.checks ?? [...DEFAULT_CHECKS],
        created_ms: ctx.now(),
        duration_ms: ctx.config.jobDurationMs,
        cancelled_ms: null,
      };
      ctx.stores.jobs.set(job.job_id, job);
      return ok({ job_id: job.job_id, status: 'queued', created_at: iso(job.created_ms) });
    },
  },
  'job_orchestrator_tool.get_task': {
    sideEffect: false,
    run(params, ctx) {
      const f = findJob(params, ctx);
      if (!f.ok) return f.outcome;
      return ok(jobView(f.job, ctx.now()));
    },
  },
  'job_orchestrator_tool.cancel_task': {
    sideEffect: true,
    run(params, ctx) {
      const f = findJob(params, ctx);
      if (!f.ok) return f.outcome;
      const now = ctx.now();
      const before = jobView(f.job, now).status;
      // finished jobs stay as they are; cancelling twice is harmless
      if (before === 'queued' || before === 'running') f.job.cancelled_ms = now;
      const after = jobView(f.job, now).status;
      return ok({ job_id: f.job.job_id, status: after, cancelled: before !== after });
    },
  },
};
