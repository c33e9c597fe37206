import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { startApp, stopProc, until, type Proc } from './procs.js';

export interface SystemOptions {
  workers?: number;
  workerEnv?: Record<string, string>;
  apiEnv?: Record<string, string>;
  simEnv?: Record<string, string>;
  apis?: number;
}

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/**
 * A whole deployment in real processes over the real Redis: gateway-sim, API(s), workers. Each
 * system gets its own key prefix, so suites can share one Redis without seeing each other.
 */
export class System {
  readonly prefix = `e2e${randomBytes(4).toString('hex')}:`;
  readonly redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 3 });
  sim!: Proc;
  simUrl = '';
  apis: Proc[] = [];
  apiUrls: string[] = [];
  workers: Proc[] = [];
  private workerSeq = 0;

  constructor(private readonly opts: SystemOptions = {}) {}

  get apiUrl(): string {
    return this.apiUrls[0]!;
  }

  private common(): Record<string, string> {
    return { REDIS_URL, KEY_PREFIX: this.prefix, LOG_FORMAT: 'text' };
  }

  async start(): Promise<this> {
    this.sim = startApp('gateway-sim', { SIM_PORT: '0', SIM_API_KEY: 'e2e-key', ...this.opts.simEnv }, 'sim');
    const m = await this.sim.waitFor(/listening on (http:\/\/\S+)/);
    this.simUrl = m[1]!.replace(/\/$/, '');
    for (let i = 0; i < (this.opts.apis ?? 1); i++) {
      const api = startApp('api', { ...this.common(), PORT: '0', HOST: '127.0.0.1', GATEWAY_URL: this.simUrl, ...this.opts.apiEnv }, `api${i}`);
      const pm = await api.waitFor(/api_listening port=(\d+)/);
      this.apis.push(api);
      this.apiUrls.push(`http://127.0.0.1:${pm[1]}`);
    }
    for (let i = 0; i < (this.opts.workers ?? 2); i++) await this.startWorker();
    return this;
  }

  async startWorker(extra: Record<string, string> = {}): Promise<Proc> {
    const w = startApp('worker', {
      ...this.common(), GATEWAY_URL: this.simUrl, SUPERVISOR_API_KEY: 'e2e-key',
      JOB_POLL_INTERVAL_SEC: '0.2', WORKER_LOCK_MS: '2000', ...this.opts.workerEnv, ...extra,
    }, `worker${this.workerSeq++}`);
    await w.waitFor(/worker_ready/);
    this.workers.push(w);
    return w;
  }

  async api<T = any>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}, base = this.apiUrl): Promise<{ status: number; body: T }> {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  }

  async simApi<T = any>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await fetch(`${this.simUrl}${path}`, {
      method, headers: { 'content-type': 'application/json' }, ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    return (await res.json()) as T;
  }

  async submit(graph: string, input: Record<string, unknown>, agent_id = 'sofiia'): Promise<string> {
    const res = await this.api('POST', `/v1/graphs/${graph}/runs`, { agent_id, input });
    if (res.status !== 202) throw new Error(`submit failed: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body.run_id as string;
  }

  async run(id: string): Promise<any> {
    return (await this.api('GET', `/v1/runs/${id}`)).body;
  }

  async waitStatus(id: string, statuses: string[], timeoutMs = 60_000): Promise<any> {
    return until(`run ${id} to reach ${statuses.join('|')}`, async () => {
      const r = await this.run(id);
      return statuses.includes(r.status) ? r : undefined;
    }, timeoutMs);
  }

  async stop(): Promise<void> {
    await Promise.allSettled([...this.workers, ...this.apis].map((p) => stopProc(p)));
    if (this.sim) await stopProc(this.sim);
    let cursor = '0';
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', `${this.prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await this.redis.del(...keys);
    } while (cursor !== '0');
    await this.redis.quit();
  }
}
