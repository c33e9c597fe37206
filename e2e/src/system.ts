import { randomBytes } from 'node:crypto';
import { Cluster, Redis } from 'ioredis';
import { bullPrefix } from '@sup/queue';
import { startApp, stopProc, until, type Proc } from './procs.js';

export interface SystemOptions {
  workers?: number;
  workerEnv?: Record<string, string>;
  apiEnv?: Record<string, string>;
  simEnv?: Record<string, string>;
  apis?: number;
  /** Which Redis the system runs on (default: standalone REDIS_URL with a random prefix). */
  redis?: SystemRedis;
}

export interface SystemRedis {
  url?: string;
  /** REDIS_CLUSTER_NODES; the default prefix then carries a hash tag. */
  clusterNodes?: string;
  /** REDIS_SENTINELS (+ REDIS_SENTINEL_NAME, default mymaster). */
  sentinels?: string;
  sentinelName?: string;
  keyPrefix?: string;
}

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/**
 * A whole deployment in real processes over the real Redis: gateway-sim, API(s), workers. Each
 * system gets its own key prefix, so suites can share one Redis without seeing each other.
 */
export class System {
  readonly prefix: string;
  /** The test's own connection, to the same deployment the processes use. */
  readonly redis: Redis | Cluster;
  sim!: Proc;
  simUrl = '';
  apis: Proc[] = [];
  apiUrls: string[] = [];
  workers: Proc[] = [];
  private workerSeq = 0;

  constructor(private readonly opts: SystemOptions = {}) {
    const r = opts.redis ?? {};
    const id = randomBytes(4).toString('hex');
    this.prefix = r.keyPrefix ?? (r.clusterNodes ? `{e2e${id}}:` : `e2e${id}:`);
    const hostPorts = (list: string) => list.split(',').map((s) => ({ host: s.slice(0, s.lastIndexOf(':')), port: Number(s.slice(s.lastIndexOf(':') + 1)) }));
    // lazy: a suite filtered out with -t never runs start()/stop(), and must not leave a socket open
    this.redis = r.clusterNodes ? new Cluster(hostPorts(r.clusterNodes), { lazyConnect: true, redisOptions: { maxRetriesPerRequest: 3 } })
      : r.sentinels ? new Redis({ sentinels: hostPorts(r.sentinels), name: r.sentinelName ?? 'mymaster', maxRetriesPerRequest: 3, failoverDetector: true, lazyConnect: true })
      : new Redis(r.url ?? REDIS_URL, { maxRetriesPerRequest: 3, lazyConnect: true });
  }

  /** BullMQ's key prefix for this system's queues (`<bull prefix>:runs:…`, `…:schedules:repeat`). */
  get bullPrefix(): string {
    return bullPrefix(this.prefix);
  }

  /** Every master the test's client reaches: the one Redis, or each master of a Cluster (known once it has answered). */
  async masters(): Promise<Redis[]> {
    if (!(this.redis instanceof Cluster)) return [this.redis];
    await this.redis.ping();
    return this.redis.nodes('master');
  }

  get apiUrl(): string {
    return this.apiUrls[0]!;
  }

  private common(): Record<string, string> {
    const r = this.opts.redis ?? {};
    return {
      REDIS_URL: r.url ?? REDIS_URL, KEY_PREFIX: this.prefix, LOG_FORMAT: 'text',
      ...(r.clusterNodes ? { REDIS_CLUSTER_NODES: r.clusterNodes } : {}),
      ...(r.sentinels ? { REDIS_SENTINELS: r.sentinels, REDIS_SENTINEL_NAME: r.sentinelName ?? 'mymaster' } : {}),
    };
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

  /** One more API process (apiEnv plus `extra`); its URL is appended to apiUrls. */
  async startApi(extra: Record<string, string> = {}): Promise<Proc> {
    const api = startApp('api', { ...this.common(), PORT: '0', HOST: '127.0.0.1', GATEWAY_URL: this.simUrl, ...this.opts.apiEnv, ...extra }, `api${this.apis.length}`);
    const pm = await api.waitFor(/api_listening port=(\d+)/);
    this.apis.push(api);
    this.apiUrls.push(`http://127.0.0.1:${pm[1]}`);
    return api;
  }

  /** Stops (SIGKILL by default) every API and worker process and forgets them; the gateway stays. */
  async stopAppProcesses(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    await Promise.all([...this.apis, ...this.workers].map((p) => stopProc(p, signal)));
    this.apis = [];
    this.apiUrls = [];
    this.workers = [];
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
    try {
      return await until(`run ${id} to reach ${statuses.join('|')}`, async () => {
        const r = await this.run(id);
        return statuses.includes(r.status) ? r : undefined;
      }, timeoutMs);
    } catch (err) {
      // a timeout in CI is only worth something with the run's state in the message
      throw new Error(`${(err as Error).message}\n${await this.diagnose(id)}`);
    }
  }

  /** What the API and the processes' logs say about a run: for test failure messages. */
  async diagnose(id: string): Promise<string> {
    const out: string[] = [];
    try {
      const r = await this.run(id);
      out.push(`record: status=${r.status} current_node=${r.current_node} attempt=${r.attempt} updated_at=${r.updated_at}`);
      const ev = await this.api('GET', `/v1/runs/${id}/events`);
      const last = (ev.body?.events ?? []).slice(-8).map((e: { ts: string; type: string; node?: string }) => `${e.ts} ${e.type}${e.node ? `:${e.node}` : ''}`);
      out.push(`last events: ${last.join(', ')}`);
    } catch (e) {
      out.push(`API: ${(e as Error).message}`);
    }
    for (const p of [...this.workers, ...this.apis]) {
      // the test's own polling shows in the API's access log: left out
      const lines = p.lines.filter((l) => !l.includes('http_request') && (l.includes(id) || /\[(WARN|ERROR)\]/.test(l))).slice(-8);
      if (lines.length) out.push(`${p.name}:\n  ${lines.join('\n  ')}`);
    }
    return out.join('\n');
  }

  async stop(): Promise<void> {
    await Promise.allSettled([...this.workers, ...this.apis].map((p) => stopProc(p)));
    if (this.sim) await stopProc(this.sim);
    // SCAN sees one node: on a Cluster, every master is scanned
    for (const node of await this.masters()) {
      let cursor = '0';
      do {
        const [next, keys] = await node.scan(cursor, 'MATCH', `${this.prefix}*`, 'COUNT', 1000);
        cursor = next;
        // on a Cluster the hash-tagged prefix keeps these in one slot, so one DEL may take them all
        if (keys.length) await node.del(...keys);
      } while (cursor !== '0');
    }
    await this.redis.quit();
    // ioredis' sentinel failover detector keeps its own connections past quit()
    this.redis.disconnect();
  }
}
