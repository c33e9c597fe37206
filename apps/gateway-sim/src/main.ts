import { createLogger } from '@sup/logging';
import { SERVICE, createSimApp } from './app.js';
import { configFromEnv, readEnv } from './env.js';

const parsed = readEnv(process.env);
if (!parsed.ok) {
  process.stderr.write(`${parsed.line}\n`);
  process.exit(1);
}
const env = parsed.env;
const log = createLogger({ service: SERVICE, level: env.LOG_LEVEL, format: env.LOG_FORMAT });

const { app, state } = createSimApp({
  apiKey: env.SIM_API_KEY ?? null,
  seed: env.SIM_SEED,
  config: configFromEnv(env),
  log,
});

const server = app.listen(env.SIM_PORT, env.SIM_HOST, () => {
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : env.SIM_PORT;
  const c = state.config;
  log.warn('gateway_sim_start', {
    note: 'TEST DOUBLE of the tool gateway (router), not a real router: deterministic fake data, injected faults',
    port,
    host: env.SIM_HOST,
    auth: env.SIM_API_KEY ? 'bearer' : 'none',
    latency_ms: c.latencyMs,
    fail_5xx_rate: c.fail5xxRate,
    timeout_rate: c.timeoutRate,
    rate_429: c.rate429,
    force_status: c.forceStatus,
    job_duration_ms: c.jobDurationMs,
    seed: env.SIM_SEED,
  });
  process.stdout.write(`gateway-sim listening on http://${env.SIM_HOST}:${port}\n`);
});
server.on('error', (err) => {
  process.stderr.write(`gateway-sim: cannot listen on ${env.SIM_HOST}:${env.SIM_PORT}: ${err.message}\n`);
  process.exit(1);
});

let stopping = false;
function stop(signal: string) {
  if (stopping) return;
  stopping = true;
  log.info('gateway_sim_stop', { signal });
  server.close(() => process.exit(0));
  // hanging (injected timeout) and keep-alive connections would hold close() open
  server.closeIdleConnections();
  server.closeAllConnections();
}
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));
