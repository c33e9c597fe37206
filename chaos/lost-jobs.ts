/**
 * Lost jobs: live runs whose BullMQ job disappears — Redis lost the write that added it (a crash
 * with `appendfsync everysec`, a failover), the API's enqueue and its rollback both failed, or an
 * operator removed the job in bull-board. 2 workers (housekeeping every HK s), release_check runs
 * (the orchestrator's job takes 1.5 s, polled every 0.2 s) and incident_triage runs with 50 ms tool
 * latency, paced; meanwhile, every 400 ms, the job of a random run that is not being worked on is
 * removed — a parked run's delayed job, or (with the queue paused for a moment, so some are there)
 * a queued run's waiting job, as if its enqueue had been lost. Every run must still succeed: the
 * workers' housekeeping gives each live run without a job its job back (`run_job_restored`).
 *
 *   pnpm exec tsx chaos/lost-jobs.ts [--short] [--runs=300]
 */
import type { Job } from 'bullmq';
import { createRunQueue } from '@sup/queue';
import { arg } from '../bench/lib/util.js';
import { chaosSystem, duplicates, finish, load, paced, say, settle, SHORT, simCalls, sleep, watchdog, startSystem } from './lib.js';

const RUNS = arg('runs', SHORT ? 60 : 300);
const PER_SEC = SHORT ? 10 : 15;
const HK = SHORT ? 1 : 2; // HOUSEKEEPING_EVERY_SEC
watchdog(SHORT ? 75_000 : 600_000);

const loadBefore = load();
const { server, System, admin } = await chaosSystem();
const sys = await startSystem(System, {
  workers: 2, simEnv: { SIM_LATENCY_MS: '50', SIM_JOB_DURATION_MS: '1500' }, workerEnv: { HOUSEKEEPING_EVERY_SEC: String(HK) },
});
const queue = createRunQueue(admin.duplicate(), sys.prefix);
const t0 = Date.now();
const gen = paced(sys, (i: number) => (i % 2 ? 'incident_triage' : 'release_check'),
  (i) => (i % 2 ? { service: `svc${i % 50}`, incident_id: `inc_${i}` } : { service: `svc${i % 50}`, version: `1.0.${i}` }), RUNS, PER_SEC);

/** Removes one job; false when BullMQ refused (a worker took it meanwhile: it holds the lock). */
const removeJob = (job: Job) => job.remove().then(() => true, () => false);

const removed: Record<string, number> = { delayed: 0, waiting: 0 };
const removedRuns = new Set<string>();
let loadDone = false;
void gen.done.then(() => (loadDone = true));
for (let i = 0; !loadDone; i++) {
  await sleep(400);
  let victims: Job[];
  let kind: 'delayed' | 'waiting';
  if (i % 3 === 2) {
    // a queued run whose enqueue was lost: pause intake so a few wait, remove one, go on
    kind = 'waiting';
    await queue.pause();
    await sleep(250);
    victims = await queue.getWaiting(0, 20);
    const job = victims[Math.floor(Math.random() * victims.length)];
    victims = job ? [job] : [];
  } else {
    kind = 'delayed';
    const delayed = await queue.getDelayed(0, 50);
    const job = delayed[Math.floor(Math.random() * delayed.length)];
    victims = job ? [job] : [];
  }
  for (const job of victims) {
    if (await removeJob(job)) {
      removed[kind]!++;
      removedRuns.add(job.id!);
    }
  }
  if (kind === 'waiting') await queue.resume();
}
await gen.done;
const out = await settle(admin, sys.prefix, gen.accepted, SHORT ? 40_000 : 180_000);
const restoredLines = sys.workers.flatMap((w) => w.lines.filter((l) => l.includes('run_job_restored')));
const restoredRuns = new Set(restoredLines.map((l) => /run=(\S+)/.exec(l)?.[1]));
const notRestored = [...removedRuns].filter((id) => !restoredRuns.has(id));
const d = duplicates(await simCalls(sys), new Set(gen.accepted));
const seconds = ((Date.now() - t0) / 1000).toFixed(1);
say(`load before ${loadBefore}, after ${load()}; restored: ${restoredLines.slice(0, 3).join(' | ')}`);
await queue.close();
await sys.stop().catch(() => undefined);
await admin.quit();
await server.stop();

const failures: string[] = [];
if (out.lost.length) failures.push(`${out.lost.length} runs lost: ${out.lost.slice(0, 5).map((id) => `${id}=${out.statuses[id]}`).join(',')}`);
if ((out.counts.succeeded ?? 0) !== gen.accepted.length) failures.push(`not every run succeeded: ${JSON.stringify(out.counts)}`);
if (gen.accepted.length !== RUNS) failures.push(`API refused submissions: ${JSON.stringify(gen.rejected)}`);
if (removed.delayed === 0 || removed.waiting === 0) failures.push(`the fault did not happen: removed ${JSON.stringify(removed)}`);
if (notRestored.length) failures.push(`${notRestored.length} runs whose job was removed were never restored: ${notRestored.slice(0, 5).join(',')}`);
if (d.repeatedEffects) failures.push(`${d.repeatedEffects} side effects executed twice under one key`);
finish({
  runs: gen.accepted.length, succeeded: out.counts.succeeded ?? 0, lost: out.lost.length, duplicated_nodes: d.duplicatedNodes.length,
  failed: out.counts.failed ?? 0, delayed_jobs_removed: removed.delayed!, waiting_jobs_removed: removed.waiting!,
  runs_restored: restoredRuns.size, restorations: restoredLines.length, repeated_side_effects: d.repeatedEffects, seconds,
}, failures);
