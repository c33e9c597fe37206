import type { CancelSignal } from '@sup/engine';
import type { RedisClient } from '@sup/run-store';

/**
 * The cancel of one job pass: what step() watches (a CancelSignal) and what the pass's child runs
 * check. It behaves as an AbortSignal in those members — aborts once, calls each listener once, a
 * listener added after the abort is never called — without what an AbortController costs per pass
 * (an EventTarget, ~6–9 µs to make here) nor an EventTarget listener added and removed per step.
 * Its listeners are the engine's own (they do not throw).
 */
export class RunCancel implements CancelSignal {
  aborted = false;
  reason: unknown = undefined;
  private listeners: Set<() => void> | undefined;

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    const listeners = this.listeners;
    this.listeners = undefined;
    if (listeners) for (const l of listeners) l();
  }

  addEventListener(_type: 'abort', listener: () => void): void {
    if (!this.aborted) (this.listeners ??= new Set()).add(listener);
  }

  removeEventListener(_type: 'abort', listener: () => void): void {
    this.listeners?.delete(listener);
  }

  throwIfAborted(): void {
    if (this.aborted) throw this.reason;
  }
}

/**
 * Reaches the process that owns a running run: the API publishes the run id on the cancel channel
 * after setting status `cancelling`; whichever worker holds the run aborts its in-flight tool call.
 * (BullMQ's own cancelJob only works inside the worker's process.)
 */
export class CancelWatcher {
  private readonly active = new Map<string, RunCancel>();

  private constructor(private readonly sub: RedisClient) {}

  static async start(sub: RedisClient, channel: string): Promise<CancelWatcher> {
    const w = new CancelWatcher(sub);
    sub.on('message', (_ch: string, runId: string) => w.active.get(runId)?.abort(new Error('cancel requested')));
    await sub.subscribe(channel);
    return w;
  }

  watch(runId: string): RunCancel {
    const c = new RunCancel();
    this.active.set(runId, c);
    return c;
  }

  unwatch(runId: string, c: RunCancel): void {
    if (this.active.get(runId) === c) this.active.delete(runId);
  }

  async close(): Promise<void> {
    await this.sub.quit().catch(() => this.sub.disconnect());
  }
}
