import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Logger } from '@sup/logging';

export interface ChildSpec {
  /** `api`, `worker1`, …: in the launcher's lines and, with `prefixLines`, before each of the child's. */
  name: string;
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
}

/**
 * When a child that exits by itself is started again. A worker's watchdog exits on purpose (code 1)
 * when its Redis connection is stuck, counting on being restarted; a child that keeps dying right
 * after its start (a bad variable, a port taken) is not restarted for ever.
 */
export interface RestartPolicy {
  /** The first restart's delay; each quick exit in a row doubles it, up to `maxDelayMs`. */
  minDelayMs: number;
  maxDelayMs: number;
  /** An exit this long after the start is not "quick": the count and the delay start over. */
  stableAfterMs: number;
  /** This many quick exits in a row and the child is given up (the launcher then stops). */
  quickExitLimit: number;
}

export const DEFAULT_POLICY: RestartPolicy = { minDelayMs: 1_000, maxDelayMs: 30_000, stableAfterMs: 10_000, quickExitLimit: 5 };

export interface ChildOptions {
  spec: ChildSpec;
  log: Logger;
  policy?: RestartPolicy;
  prefixLines?: boolean;
  /** Called once the child exited quickly `quickExitLimit` times in a row; it is not restarted. */
  onGiveUp: (name: string) => void;
  now?: () => number;
}

/** One child process kept running until `stop()`: restarted when it exits by itself. */
export class Child {
  private proc: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private restartTimer: NodeJS.Timeout | undefined;
  private stopping = false;
  private startedAt = 0;
  private quickExits = 0;
  private readonly policy: RestartPolicy;
  private readonly now: () => number;

  constructor(private readonly opts: ChildOptions) {
    this.policy = opts.policy ?? DEFAULT_POLICY;
    this.now = opts.now ?? Date.now;
  }

  get name(): string {
    return this.opts.spec.name;
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  start(): void {
    const { spec, log, prefixLines } = this.opts;
    // the IPC channel is how a child learns that the launcher is gone (its 'disconnect'), even killed
    const proc = spawn(spec.command, spec.args, {
      env: spec.env,
      stdio: prefixLines ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.proc = proc;
    this.startedAt = this.now();
    if (prefixLines) {
      for (const [from, to] of [[proc.stdout, process.stdout], [proc.stderr, process.stderr]] as const) {
        if (from) createInterface({ input: from, crlfDelay: Infinity }).on('line', (line) => to.write(`[${spec.name}] ${line}\n`));
      }
    }
    // 'close', not 'exit': it also follows a failed spawn ('error' without 'exit')
    this.exited = new Promise((resolve) => {
      proc.once('close', (code, signal) => {
        this.proc = undefined;
        this.onExit(code, signal);
        resolve();
      });
    });
    proc.once('error', (err) => log.error('child_spawn_failed', { name: spec.name, error: err.message }));
    log.info('child_started', { name: spec.name, pid: proc.pid });
  }

  private onExit(code: number | null, signal: NodeJS.Signals | null): void {
    const { spec, log } = this.opts;
    const uptimeMs = this.now() - this.startedAt;
    if (this.stopping) {
      log.info('child_stopped', { name: spec.name, code, signal, uptime_ms: uptimeMs });
      return;
    }
    const p = this.policy;
    this.quickExits = uptimeMs < p.stableAfterMs ? this.quickExits + 1 : 0;
    if (this.quickExits >= p.quickExitLimit) {
      log.error('child_given_up', { name: spec.name, code, signal, quick_exits: this.quickExits });
      this.opts.onGiveUp(spec.name);
      return;
    }
    const delayMs = Math.min(p.maxDelayMs, p.minDelayMs * 2 ** Math.max(0, this.quickExits - 1));
    log.warn('child_exited', { name: spec.name, code, signal, uptime_ms: uptimeMs, restart_in_ms: delayMs });
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (!this.stopping) this.start();
    }, delayMs);
  }

  /** Sends `signal` and resolves once the child has exited; no restart after it. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    this.stopping = true;
    clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    this.proc?.kill(signal);
    await this.exited;
  }

  /** The second Ctrl-C: no waiting any longer. */
  kill(): void {
    this.stopping = true;
    clearTimeout(this.restartTimer);
    this.proc?.kill('SIGKILL');
  }
}
