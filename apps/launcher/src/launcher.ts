import type { Logger } from '@sup/logging';
import { Child, type ChildSpec, type RestartPolicy } from './child.js';

export interface LaunchOptions {
  api: ChildSpec;
  workers: ChildSpec[];
  log: Logger;
  policy?: RestartPolicy;
  prefixLines?: boolean;
  /** Called once everything has stopped: 0 after `stop()`, 1 after a child was given up. */
  onDone: (code: number) => void;
}

export interface Launched {
  readonly children: readonly Child[];
  /** Workers first — each finishes its node in flight and hands its runs back — then the API. */
  stop(signal: NodeJS.Signals): Promise<void>;
  /** SIGKILL to every child (a second Ctrl-C). */
  kill(): void;
}

/**
 * The API and the workers as one unit, as the MVP ran in one container: every line of every
 * process on one stdout (`docker logs sofiia-supervisor` shows the workers' tool calls), a child
 * that exits by itself started again, one stop for all.
 */
export function launch(opts: LaunchOptions): Launched {
  const { log } = opts;
  let stopping: Promise<void> | undefined;
  let code = 0;
  const make = (spec: ChildSpec) => new Child({
    spec, log, policy: opts.policy, prefixLines: opts.prefixLines,
    onGiveUp: (name) => {
      code = 1;
      void stop('SIGTERM', `${name} keeps exiting`);
    },
  });
  const workers = opts.workers.map(make);
  const api = make(opts.api);
  const children = [...workers, api];

  function stop(signal: NodeJS.Signals, reason: string): Promise<void> {
    stopping ??= (async () => {
      log.info('launcher_stopping', { signal, reason });
      await Promise.all(workers.map((w) => w.stop(signal)));
      await api.stop(signal);
      log.info('launcher_stopped', { code });
      opts.onDone(code);
    })();
    return stopping;
  }

  for (const c of children) c.start();
  log.info('launcher_started', { api: api.pid, workers: workers.map((w) => w.pid).join(',') || 'none' });
  return {
    children,
    stop: (signal) => stop(signal, 'signal'),
    kill: () => {
      log.warn('launcher_killing', { children: children.length });
      for (const c of children) c.kill();
    },
  };
}
