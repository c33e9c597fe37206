import { describe, expect, it } from '@jest/globals';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { ApiEnv, LauncherEnv, WorkerEnv } from '@sup/config';
import { SimEnv } from '../../apps/gateway-sim/src/env.js';
import { ROOT } from '../src/procs.js';

/**
 * The compose files are checked by Debian's docker-compose (`config` resolves and validates them
 * offline; no Docker engine runs here), then their resolved form is read for what production needs.
 */
function composeVersion(): string | null {
  try {
    return execFileSync('docker-compose', ['version', '--short'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
  } catch {
    return null;
  }
}
const version = composeVersion();
if (!version) {
  // eslint-disable-next-line no-console
  console.warn('SKIPPED compose validation: docker-compose is not installed (scripts/test.sh installs Debian\'s docker-compose when run as root)');
}
const suite = version ? describe : describe.skip;

interface Service {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  container_name?: string;
  environment?: Record<string, string>;
  healthcheck?: { test: string[] };
  restart?: string;
  profiles?: string[];
  ports?: Array<{ published: number | string; target: number }>;
  volumes?: string[];
  stop_grace_period?: string;
  networks?: Record<string, { aliases?: string[] } | null>;
  deploy?: { replicas?: number; resources?: { limits?: { cpus?: number | string; memory?: string } } };
}
interface Resolved { services: Record<string, Service>; volumes?: Record<string, unknown> }

/** `docker-compose -f FILE config` with only PATH/HOME set, so the defaults are what is checked. */
function config(files: string[], env: Record<string, string> = {}): { status: number | null; out: string; err: string } {
  const res = spawnSync('docker-compose', [...files.flatMap((f) => ['-f', f]), 'config'], {
    cwd: ROOT, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', ...env }, encoding: 'utf8', timeout: 60_000,
  });
  return { status: res.status, out: res.stdout, err: res.stderr };
}
function resolved(files: string[], env: Record<string, string> = {}): Resolved {
  const r = config(files, env);
  if (r.status !== 0) throw new Error(`docker-compose config failed (${r.status}): ${r.err}`);
  return parse(r.out) as Resolved;
}
const flat = (cmd: string[] | undefined) => (cmd ?? []).join(' ');
const envKeys = (schema: { shape: Record<string, unknown> }) => new Set(Object.keys(schema.shape));

suite(`compose files (docker-compose ${version ?? 'missing'} config)`, () => {
  const PROD = 'compose/docker-compose.yml';
  const DEV = 'compose/docker-compose.dev.yml';

  it('the production file: Redis with noeviction, AOF everysec and a volume', () => {
    const { services, volumes } = resolved([PROD]);
    const redis = services['sofiia-redis']!;
    expect(flat(redis.command)).toContain('--maxmemory-policy noeviction');
    expect(flat(redis.command)).toContain('--appendonly yes');
    expect(flat(redis.command)).toContain('--appendfsync everysec');
    expect(redis.volumes).toEqual([expect.stringMatching(/^redis-data:\/data/)]);
    expect(volumes).toHaveProperty('redis-data');
    // the runbook's `docker exec sofiia-redis redis-cli ping` / `docker logs sofiia-supervisor`
    expect(redis.container_name).toBe('sofiia-redis');
    expect(services['sofiia-supervisor']!.container_name).toBe('sofiia-supervisor');
  });

  it("the runbook's compose commands: its file name, its service names, and the supervisor container runs the workers", () => {
    // `docker compose -f docker-compose.node2-sofiia-supervisor.yml restart sofiia-supervisor`, run in compose/
    const linked = resolved(['compose/docker-compose.node2-sofiia-supervisor.yml']);
    expect(linked).toEqual(resolved([PROD]));
    expect(Object.keys(linked.services)).toEqual(expect.arrayContaining(['sofiia-supervisor', 'sofiia-redis']));
    const deps = (linked.services['sofiia-supervisor'] as Service & { depends_on?: Record<string, { condition: string }> }).depends_on;
    expect(deps).toEqual({ 'sofiia-redis': { condition: 'service_healthy' } });
    // `docker logs sofiia-supervisor | grep gateway_call`: the workers that make the calls print in that container
    const supervisor = linked.services['sofiia-supervisor']!;
    expect(flat(supervisor.command)).toBe('node apps/launcher/dist/main.js');
    expect(LauncherEnv.parse({ WORKERS: supervisor.environment!.WORKERS }).WORKERS).toBe(2);
    // other containers reach Redis without a password whatever image runs it (found on a real engine)
    expect(flat(linked.services['sofiia-redis']!.command)).toContain('--protected-mode no');
  });

  it('the production file: api and workers on 8084, extra worker containers on demand, health checks, restart policies, resource limits', () => {
    const { services } = resolved([PROD]);
    const api = services['sofiia-supervisor']!;
    const worker = services['sofiia-supervisor-worker']!;
    expect(api.ports).toEqual([expect.objectContaining({ published: 8084, target: 8084 })]);
    expect(flat(api.command)).toBe('node apps/launcher/dist/main.js');
    expect(flat(worker.command)).toBe('node apps/worker/dist/main.js');
    expect(worker.deploy?.replicas).toBe(0);
    expect(worker.container_name).toBeUndefined(); // a fixed name would forbid replicas
    for (const name of ['sofiia-redis', 'sofiia-supervisor', 'sofiia-supervisor-worker']) {
      const s = services[name]!;
      expect([name, Boolean(s.healthcheck?.test?.length)]).toEqual([name, true]);
      expect(s.restart).toBe('unless-stopped');
      expect(s.deploy?.resources?.limits?.memory).toBeDefined();
      expect(s.deploy?.resources?.limits?.cpus).toBeDefined();
    }
    expect(flat(api.healthcheck!.test)).toContain('http://127.0.0.1:8084/healthz');
    // each worker of the container, on the ports the launcher gives them
    expect(flat(api.healthcheck!.test)).toContain('${WORKERS:-0}');
    expect(flat(api.healthcheck!.test)).toContain(`$((${api.environment!.WORKER_METRICS_PORT} + i))/healthz`);
    expect(flat(worker.healthcheck!.test)).toContain(`127.0.0.1:${worker.environment!.WORKER_METRICS_PORT}/healthz`);
    for (const s of [api, worker]) expect(s.build?.dockerfile).toBe('Dockerfile');
    // scaled by configuration
    expect(resolved([PROD], { WORKER_REPLICAS: '6' }).services['sofiia-supervisor-worker']!.deploy?.replicas).toBe(6);
  });

  it('the production file: gateway-sim only in the dev profile, reachable as "router"', () => {
    const { services } = resolved([PROD]);
    expect(services['gateway-sim']!.profiles).toEqual(['dev']);
    expect(services['gateway-sim']!.networks?.default?.aliases).toContain('router');
    for (const [name, s] of Object.entries(services)) if (name !== 'gateway-sim') expect([name, s.profiles]).toEqual([name, undefined]);
    expect(services['sofiia-supervisor']!.environment!.GATEWAY_URL).toBe('http://router:8000');
  });

  it('every environment variable the files set is one the app reads (no silently ignored typo)', () => {
    const worker = envKeys(WorkerEnv);
    // the supervisor container runs the launcher, the API and workers: it reads all three
    const api = new Set([...envKeys(ApiEnv), ...worker, ...envKeys(LauncherEnv)]);
    const sim = envKeys(SimEnv);
    for (const file of [PROD, DEV]) {
      const { services } = resolved([file], { WORKER_REPLICAS: '1' });
      // SUPERVISOR_API_KEY on the api only serves the runbook's `docker exec sofiia-supervisor env | grep`
      const unknown = (keys: Set<string>, s: Service, extra: string[] = []) => Object.keys(s.environment ?? {}).filter((k) => !keys.has(k) && !extra.includes(k));
      expect([file, unknown(api, services['sofiia-supervisor']!, ['SUPERVISOR_API_KEY'])]).toEqual([file, []]);
      expect([file, unknown(worker, services['sofiia-supervisor-worker']!)]).toEqual([file, []]);
      expect([file, unknown(sim, services['gateway-sim']!)]).toEqual([file, []]);
    }
  });

  it('the production file\'s defaults are the apps\' own: only REDIS_URL and the workers\' metrics port differ', () => {
    const { services } = resolved([PROD], { WORKER_REPLICAS: '1' });
    const shown = (v: unknown) => (Array.isArray(v) ? v.join(',') : String(v ?? ''));
    const differing = (schemas: Array<typeof ApiEnv | typeof WorkerEnv | typeof LauncherEnv>, s: Service) => {
      const defaults = Object.assign({}, ...schemas.map((schema) => schema.parse({}))) as Record<string, unknown>;
      return Object.entries(s.environment ?? {}).filter(([k, v]) => k in defaults && shown(defaults[k]) !== String(v)).map(([k]) => k);
    };
    expect(differing([ApiEnv, WorkerEnv, LauncherEnv], services['sofiia-supervisor']!).sort()).toEqual(['REDIS_URL', 'WORKER_METRICS_PORT']);
    expect(differing([WorkerEnv], services['sofiia-supervisor-worker']!)).toEqual(['REDIS_URL', 'WORKER_METRICS_PORT']);
  });

  it('the dev file stands alone: gateway-sim always on, Redis noeviction without persistence', () => {
    const { services } = resolved([DEV]);
    expect(Object.keys(services).sort()).toEqual(['gateway-sim', 'sofiia-redis', 'sofiia-supervisor', 'sofiia-supervisor-worker']);
    expect(services['gateway-sim']!.profiles).toBeUndefined();
    expect(flat(services['sofiia-redis']!.command)).toContain('--maxmemory-policy noeviction');
    expect(flat(services['sofiia-redis']!.command)).toContain('--appendonly no');
    expect(flat(services['sofiia-redis']!.command)).toContain('--protected-mode no');
  });

  it('every variable the apps read is passed through, so compose/.env can set it', () => {
    const { services } = resolved([PROD], { WORKER_REPLICAS: '1' });
    const missing = (schema: typeof ApiEnv | typeof WorkerEnv | typeof LauncherEnv, s: Service) => [...envKeys(schema)].filter((k) => !(k in (s.environment ?? {})));
    expect(missing(ApiEnv, services['sofiia-supervisor']!)).toEqual([]);
    expect(missing(WorkerEnv, services['sofiia-supervisor']!)).toEqual([]);
    // line prefixes are for scripts/start.sh's terminal; a container's lines stay the runbook's
    expect(missing(LauncherEnv, services['sofiia-supervisor']!)).toEqual(['LAUNCHER_LINE_PREFIX']);
    expect(missing(WorkerEnv, services['sofiia-supervisor-worker']!)).toEqual([]);
    const set = { REDIS_SENTINELS: 's1:26379,s2:26379', REDIS_SENTINEL_NAME: 'sup', REDIS_PASSWORD: 'pw', WORKER_REPLICAS: '1' };
    for (const name of ['sofiia-supervisor', 'sofiia-supervisor-worker']) {
      expect(resolved([PROD], set).services[name]!.environment).toMatchObject({ REDIS_SENTINELS: 's1:26379,s2:26379', REDIS_SENTINEL_NAME: 'sup', REDIS_PASSWORD: 'pw' });
      expect(resolved([PROD], { REDIS_CLUSTER_NODES: 'c1:7000', WORKER_REPLICAS: '1' }).services[name]!.environment!.REDIS_CLUSTER_NODES).toBe('c1:7000');
    }
  });

  it("a worker's stop grace period outlasts WORKER_STOP_TIMEOUT_MS, in every file and service that runs workers: Docker must not SIGKILL a worker finishing a 60 s node", () => {
    const ms = (d: string | undefined) => [...(d ?? '').matchAll(/(\d+(?:\.\d+)?)(ms|h|m|s)/g)]
      .reduce((sum, [, n, unit]) => sum + Number(n) * { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 }[unit as 'ms' | 's' | 'm' | 'h'], 0);
    const stopTimeout = WorkerEnv.parse({}).WORKER_STOP_TIMEOUT_MS;
    for (const file of [PROD, DEV]) {
      for (const name of ['sofiia-supervisor', 'sofiia-supervisor-worker']) {
        const s = resolved([file], { WORKER_REPLICAS: '1' }).services[name]!;
        const timeout = Number(s.environment?.WORKER_STOP_TIMEOUT_MS ?? stopTimeout);
        expect([file, name, ms(s.stop_grace_period) > timeout]).toEqual([file, name, true]);
      }
    }
  });

  it('rejects what is wrong (the validation is real)', () => {
    const bad = config([PROD], { WORKER_REPLICAS: 'many' });
    expect(bad.status).not.toBe(0);
    expect(bad.err).toMatch(/replicas/);
  });

  it('the Dockerfile builds in stages with the pinned pnpm and runs as a non-root user', () => {
    const text = readFileSync(`${ROOT}Dockerfile`, 'utf8');
    const stages = text.split('\n').filter((l) => /^FROM\s/i.test(l));
    expect(stages.length).toBeGreaterThanOrEqual(2);
    const pkg = JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')) as { packageManager: string };
    expect(text).toContain(`pnpm@${pkg.packageManager.split('@')[1]}`);
    const final = text.slice(text.lastIndexOf('\nFROM '));
    const users = [...final.matchAll(/^USER\s+(\S+)/gm)].map((m) => m[1]);
    expect(users.length).toBeGreaterThan(0);
    expect(users.at(-1)).not.toMatch(/^(root|0)(:|$)/);
  });
});
