import { fileURLToPath } from 'node:url';
import { ApiEnv, LauncherEnv, loadOrExit, WorkerEnv } from '@sup/config';
import { createLogger } from '@sup/logging';
import { launch } from './launcher.js';

/**
 * `node apps/launcher/dist/main.js`: the API and WORKERS worker processes under one process — the
 * `sofiia-supervisor` container's command and scripts/start.sh's. Every other variable goes to the
 * children unchanged; each checks its own.
 */
const env = loadOrExit(LauncherEnv);
// the children's own checks first, here: a bad variable is one line and exit 1, not the same line
// from every child on every restart until the launcher gives them up
loadOrExit(ApiEnv);
if (env.WORKERS > 0) loadOrExit(WorkerEnv);
const log = createLogger({ service: 'launcher', level: env.LOG_LEVEL, format: env.LOG_FORMAT });
const app = (name: string) => fileURLToPath(new URL(`../../${name}/dist/main.js`, import.meta.url));

const launched = launch({
  api: { name: 'api', command: process.execPath, args: [app('api')], env: process.env },
  workers: Array.from({ length: env.WORKERS }, (_, i) => ({
    name: `worker${i + 1}`,
    command: process.execPath,
    args: [app('worker')],
    env: { ...process.env, WORKER_METRICS_PORT: String(env.WORKER_METRICS_PORT === 0 ? 0 : env.WORKER_METRICS_PORT + i) },
  })),
  log,
  prefixLines: env.LAUNCHER_LINE_PREFIX,
  onDone: (code) => process.exit(code),
});

let signals = 0;
const onSignal = (signal: NodeJS.Signals) => {
  // a second Ctrl-C does not wait any longer (a worker also gives up by itself after WORKER_STOP_TIMEOUT_MS)
  if (++signals > 1) return launched.kill();
  void launched.stop(signal);
};
process.on('SIGTERM', onSignal);
process.on('SIGINT', onSignal);
