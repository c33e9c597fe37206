import type { Job } from 'bullmq';

/** How long a node runs before its name is written to the job's progress (bull-board). */
export const PROGRESS_AFTER_MS = 1_000;

/**
 * Job progress `{node}` for bull-board. It costs a Redis round trip, so it is written only for a
 * node still running after PROGRESS_AFTER_MS (the ones an operator looks at) and when a run parks,
 * never for every quick step; only when the node changed (not on every poll of a parked node); and
 * it never fails a run: it is cosmetic.
 */
export async function showNode(job: Job, node: string | null): Promise<void> {
  if (!node || (job.progress as { node?: unknown } | null)?.node === node) return;
  await job.updateProgress({ node }).catch(() => undefined);
}

/**
 * The deferred progress write of one job pass: `showNode` for a node still running
 * PROGRESS_AFTER_MS after it started. One timer per pass rather than one armed and cleared around
 * every step: it is armed when a node starts and none is pending; when it fires it writes the
 * progress if the node in flight has run long enough, waits out the rest if it has not, and lapses
 * between two nodes (the next start arms it again).
 */
export class ProgressWatch {
  private node: string | null = null;
  private since = 0;
  private inFlight = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly job: Job) {}

  /** A node starts (`node`: the run's current node). */
  start(node: string | null): void {
    this.node = node;
    this.since = Date.now();
    this.inFlight = true;
    if (this.timer === undefined) this.arm(PROGRESS_AFTER_MS);
  }

  /** The node in flight came back. */
  stop(): void {
    this.inFlight = false;
  }

  /** The pass is over. */
  close(): void {
    this.inFlight = false;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private arm(ms: number): void {
    this.timer = setTimeout(() => this.fire(), ms);
  }

  private fire(): void {
    this.timer = undefined;
    if (!this.inFlight) return;
    const left = this.since + PROGRESS_AFTER_MS - Date.now();
    if (left > 0) this.arm(left);
    else void showNode(this.job, this.node);
  }
}
