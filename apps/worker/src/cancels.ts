import type { RedisClient } from '@sup/run-store';

/**
 * Reaches the process that owns a running run: the API publishes the run id on the cancel channel
 * after setting status `cancelling`; whichever worker holds the run aborts its in-flight tool call.
 * (BullMQ's own cancelJob only works inside the worker's process.)
 */
export class CancelWatcher {
  private readonly active = new Map<string, AbortController>();

  private constructor(private readonly sub: RedisClient) {}

  static async start(sub: RedisClient, channel: string): Promise<CancelWatcher> {
    const w = new CancelWatcher(sub);
    sub.on('message', (_ch: string, runId: string) => w.active.get(runId)?.abort(new Error('cancel requested')));
    await sub.subscribe(channel);
    return w;
  }

  watch(runId: string): AbortController {
    const ac = new AbortController();
    this.active.set(runId, ac);
    return ac;
  }

  unwatch(runId: string, ac: AbortController): void {
    if (this.active.get(runId) === ac) this.active.delete(runId);
  }

  async close(): Promise<void> {
    await this.sub.quit().catch(() => this.sub.disconnect());
  }
}
