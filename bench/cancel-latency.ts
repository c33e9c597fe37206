/**
 * Cancel latency for a run whose tool call is in flight: time from the cancel request to the run's
 * `run_cancelled` event (and to the API reporting `cancelled`). Real processes: gateway-sim, API,
 * 2 workers, on the Redis at $REDIS_URL. Needs built apps (`pnpm turbo run build`).
 *
 *   pnpm exec tsx bench/cancel-latency.ts [count=100]
 */
import { System } from '../e2e/src/system.js';
import { until } from '../e2e/src/procs.js';

const N = Number(process.argv[2] ?? 100);
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;

const sys = await new System({ workers: 2, simEnv: { SIM_JOB_DURATION_MS: '60000' } }).start();
try {
  await sys.simApi('PATCH', '/_sim/config', { latencyByTool: { 'job_orchestrator_tool.start_task': 30_000 } });
  const toEvent: number[] = [];
  const toApi: number[] = [];
  for (let i = 0; i < N; i++) {
    const id = await sys.submit('release_check', { service: `bench${i}`, version: '1' });
    await until('call in flight', async () => {
      const { calls } = await sys.simApi<{ calls: { outcome: string }[] }>('GET', `/_sim/calls?run_id=${id}&action=start_task`);
      return calls.some((c) => c.outcome === 'pending');
    }, 30_000, 2);
    const t0 = Date.now();
    await sys.api('POST', `/v1/runs/${id}/cancel`, {});
    await until('cancelled', async () => (await sys.run(id)).status === 'cancelled', 30_000, 1);
    toApi.push(Date.now() - t0);
    const ev = await sys.api('GET', `/v1/runs/${id}/events`);
    toEvent.push(Date.parse(ev.body.events.find((e: { type: string }) => e.type === 'run_cancelled').ts) - t0);
  }
  console.log(`cancel latency over ${N} in-flight cancels (ms): event p50=${pct(toEvent, 50)} p99=${pct(toEvent, 99)} max=${Math.max(...toEvent)}; ` +
    `seen by API poll p50=${pct(toApi, 50)} p99=${pct(toApi, 99)}`);
} finally {
  await sys.stop();
}
