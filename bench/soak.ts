/**
 * Soak: does anything grow? The whole system as scripts/start.sh runs it (gateway-sim + apps/launcher
 * with the API and 2 workers) on a Redis you started, under a steady mixed load for --minutes, then
 * idle for --drain-sec; every --sample-sec it samples each process (RSS, heap, event-loop lag, open
 * fds, /metrics series) and Redis (used_memory, DBSIZE, clients, keys by pattern, the size of every
 * key that is not per run: sorted sets, lists, streams, hashes) into a long CSV (t_sec,metric,value).
 * At the end it prints a table (before load / 2 / 15 / 30 / 45 min / drain marks) and the least-squares
 * slope of each figure over the last two thirds of the load (per hour).
 *
 * Load: --rate creates/s over release_check (short orchestrator job), incident_triage and
 * postmortem_draft with (`inc_triaged…`) and without (child triage run) an existing triage; 10 %
 * cancelled at a random moment (0–3 s); 20 % with a webhook to a local receiver that answers 500 one
 * time in five; 10 % with an Idempotency-Key (a third of them replays); 3 schedules every 5 s;
 * 20 SSE followers that come and go; GET /v1/runs listings with filters, following cursors; /metrics
 * scraped every 15 s; every 10 minutes worker 2 is SIGTERMed once and SIGKILLed once (the launcher
 * starts it again). Worker 1 and the API live through the whole load, so their figures can drift.
 *
 *   redis-server --port 7501 --save '' --appendonly no --maxmemory 512mb --maxmemory-policy noeviction --daemonize yes
 *   pnpm turbo run build
 *   pnpm exec tsx bench/soak.ts --minutes=45 --rate=6 --redis-port=7501 --api-port=8251 --sim-port=8351 \
 *     --metrics-port=9651 --drain-sec=720 --csv=/tmp/soak.csv
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { arg, infoNumber, load, procStats, say, sleep } from './lib/util.js';

const MINUTES = arg('minutes', 45);
const RATE = arg('rate', 6);
const REDIS_PORT = arg('redis-port', 7501);
const API_PORT = arg('api-port', 8251);
const SIM_PORT = arg('sim-port', 8351);
const METRICS_PORT = arg('metrics-port', 9651);
const SAMPLE_SEC = arg('sample-sec', 30);
const DRAIN_SEC = arg('drain-sec', 720);
const TTL = arg('ttl', 120);
const HK = arg('housekeeping', 10);
const CSV = process.argv.find((a) => a.startsWith('--csv='))?.slice(6) ?? '/tmp/soak.csv';
const LOGS = process.argv.find((a) => a.startsWith('--logs='))?.slice(7) ?? '/tmp/soak-logs';
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const API = `http://127.0.0.1:${API_PORT}`;
const REDIS_URL = `redis://127.0.0.1:${REDIS_PORT}`;
const KEY = 'soak-gateway-key';

const redis = new Redis(REDIS_URL);
const t0 = Date.now();
const tSec = () => Math.round((Date.now() - t0) / 1000);
const rnd = (n: number) => Math.floor(Math.random() * n);
const counters: Record<string, number> = {};
const count = (k: string, n = 1) => { counters[k] = (counters[k] ?? 0) + n; };

// ---------------------------------------------------------------- processes
const children: ChildProcess[] = [];
process.once('exit', () => { for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL'); });
function start(name: string, args: string[], env: Record<string, string>): ChildProcess {
  const out = createWriteStream(`${LOGS}/${name}.log`);
  const c = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  c.stdout!.pipe(out); c.stderr!.pipe(out);
  children.push(c);
  return c;
}

interface Proc { name: string; pid: number; metricsUrl: string }
/** The launcher's children, named by /proc: `api`, or `worker<n>` from its WORKER_METRICS_PORT. */
function procs(launcherPid: number): Proc[] {
  const out: Proc[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const ppid = /PPid:\s+(\d+)/.exec(readFileSync(`/proc/${d}/status`, 'utf8'))?.[1];
      if (Number(ppid) !== launcherPid) continue;
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8');
      if (cmd.includes('apps/api/dist')) out.push({ name: 'api', pid: Number(d), metricsUrl: `${API}/metrics` });
      else if (cmd.includes('apps/worker/dist')) {
        const port = Number(/WORKER_METRICS_PORT=(\d+)/.exec(readFileSync(`/proc/${d}/environ`, 'utf8'))?.[1]);
        out.push({ name: `worker${port - METRICS_PORT + 1}`, pid: Number(d), metricsUrl: `http://127.0.0.1:${port}/metrics` });
      }
    } catch { /* gone meanwhile */ }
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}
const fds = (pid: number) => { try { return readdirSync(`/proc/${pid}/fd`).length; } catch { return NaN; } };

async function http(path: string, init: RequestInit = {}, timeoutMs = 10_000): Promise<{ status: number; body: unknown }> {
  const res = await fetch(path.startsWith('http') ? path : `${API}${path}`, { ...init, signal: AbortSignal.timeout(timeoutMs) });
  const text = await res.text();
  let body: unknown = text;
  try { body = JSON.parse(text); } catch { /* metrics text */ }
  return { status: res.status, body };
}
async function waitFor(what: string, fn: () => Promise<boolean>, ms = 60_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await fn().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`${what} not ready within ${ms} ms`);
    await sleep(200);
  }
}

/** `name value` lines of a Prometheus text page (labels kept in the name). */
function parseMetrics(text: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    m.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return m;
}

// ---------------------------------------------------------------- webhook receiver (fails 1 in 5)
const hook = createServer((req: IncomingMessage, res: ServerResponse) => {
  req.resume();
  req.on('end', () => {
    const fail = Math.random() < 0.2;
    count(fail ? 'webhook_500' : 'webhook_200');
    res.writeHead(fail ? 500 : 200).end();
  });
});
await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
const HOOK_URL = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`;

// ---------------------------------------------------------------- sampling
const csv = createWriteStream(CSV);
csv.write('t_sec,metric,value\n');
const samples: Array<{ t: number; phase: string; v: Map<string, number> }> = [];
let launcher!: ChildProcess;
let sim!: ChildProcess;

/** Key pattern: run ids, digests and long numbers replaced, so per-run keys fall into one class. */
const classOf = (k: string) => k.replace(/gr_[a-z0-9]+/g, '<id>').replace(/\b[0-9a-f]{32}\b/g, '<hex>').replace(/\d{6,}/g, '<n>');

async function sample(phase: string): Promise<void> {
  const v = new Map<string, number>();
  for (const p of procs(launcher.pid!)) {
    v.set(`${p.name}.fds`, fds(p.pid));
    try {
      const text = (await http(p.metricsUrl, {}, 5000)).body as string;
      const m = parseMetrics(text);
      v.set(`${p.name}.rss_mb`, (m.get('process_resident_memory_bytes') ?? NaN) / 1048576);
      v.set(`${p.name}.heap_mb`, (m.get('nodejs_heap_size_used_bytes') ?? NaN) / 1048576);
      v.set(`${p.name}.lag_p99_ms`, (m.get('nodejs_eventloop_lag_p99_seconds') ?? NaN) * 1000);
      v.set(`${p.name}.series`, m.size);
      v.set(`${p.name}.handles`, m.get('nodejs_active_handles_total') ?? NaN);
    } catch { count(`metrics_error_${p.name}`); }
  }
  // the development gateway keeps every call's answer, job and incident in memory (a test double)
  v.set('gateway-sim.rss_mb', (procStats(sim.pid!)?.rssBytes ?? NaN) / 1048576);
  const mem = await redis.info('memory');
  v.set('redis.used_mb', infoNumber(mem, 'used_memory') / 1048576);
  v.set('redis.clients', infoNumber(await redis.info('clients'), 'connected_clients'));
  v.set('redis.dbsize', await redis.dbsize());
  const classes = new Map<string, number>();
  let cursor = '0';
  do {
    const [c, keys] = await redis.scan(cursor, 'COUNT', 1000);
    cursor = c;
    for (const k of keys) classes.set(classOf(k), (classes.get(classOf(k)) ?? 0) + 1);
  } while (cursor !== '0');
  for (const [cls, n] of classes) {
    if (cls.includes('<')) { v.set(`keys ${cls}`, n); continue; }
    // a key of its own (not per run): its size by type
    const type = await redis.type(cls);
    const size = type === 'zset' ? await redis.zcard(cls) : type === 'list' ? await redis.llen(cls) : type === 'stream' ? await redis.xlen(cls)
      : type === 'hash' ? await redis.hlen(cls) : type === 'set' ? await redis.scard(cls) : 1;
    v.set(`size ${cls} (${type})`, size);
  }
  const t = tSec();
  samples.push({ t, phase, v });
  for (const [k, x] of v) csv.write(`${t},"${k}",${Number.isFinite(x) ? +x.toFixed(3) : ''}\n`);
  say(`[${t}s ${phase}] redis ${v.get('redis.used_mb')!.toFixed(1)} MB, dbsize ${v.get('redis.dbsize')}, clients ${v.get('redis.clients')}; ` +
    `api rss ${v.get('api.rss_mb')?.toFixed(0)} heap ${v.get('api.heap_mb')?.toFixed(0)}; w1 rss ${v.get('worker1.rss_mb')?.toFixed(0)} heap ${v.get('worker1.heap_mb')?.toFixed(0)}; load ${load()}`);
}

// ---------------------------------------------------------------- load
const recent: string[] = [];
const idemKeys: Array<{ key: string; graph: string; body: string }> = [];
const AGENTS = ['sofiia', 'agent-a', 'agent-b', 'agent-c'];
let loadOn = true;

function pickRun(): { graph: string; input: Record<string, unknown> } {
  const i = rnd(1_000_000);
  const r = Math.random();
  if (r < 0.4) return { graph: 'release_check', input: { service: `svc${i % 50}`, version: `1.${i % 10}.0` } };
  if (r < 0.7) return { graph: 'incident_triage', input: { service: `svc${i % 50}`, incident_id: `inc_${i}`, symptoms: 'error rate up' } };
  if (r < 0.85) return { graph: 'postmortem_draft', input: { incident_id: `inc_triaged_${i}` } };
  return { graph: 'postmortem_draft', input: { incident_id: `inc_${i}` } };
}

async function createOne(): Promise<void> {
  const { graph, input } = pickRun();
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  let body = JSON.stringify({ agent_id: AGENTS[rnd(AGENTS.length)], input, metadata: { soak: true }, ...(Math.random() < 0.2 ? { webhook: HOOK_URL } : {}) });
  let g = graph;
  if (Math.random() < 0.1) {
    const old = idemKeys.length > 0 && Math.random() < 0.33 ? idemKeys[rnd(idemKeys.length)]! : undefined;
    if (old) { headers['idempotency-key'] = old.key; body = old.body; g = old.graph; count('create_replay'); } else {
      const key = `soak-${rnd(1e9)}`;
      headers['idempotency-key'] = key;
      idemKeys.push({ key, graph, body });
      if (idemKeys.length > 200) idemKeys.shift();
    }
  }
  const res = await http(`/v1/graphs/${g}/runs`, { method: 'POST', headers, body });
  count(`create_${res.status}`);
  const id = (res.body as { run_id?: string }).run_id;
  if (!id || res.status !== 202) return;
  recent.push(id);
  if (recent.length > 500) recent.shift();
  if (Math.random() < 0.1) {
    setTimeout(() => {
      http(`/v1/runs/${id}/cancel`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"reason":"soak"}' })
        .then((r) => count(`cancel_${r.status}`), () => count('cancel_error'));
    }, rnd(3000));
  }
}

async function creator(): Promise<void> {
  const every = 1000 / RATE;
  let next = Date.now();
  while (loadOn) {
    createOne().catch(() => count('create_error'));
    next += every;
    await sleep(Math.max(0, next - Date.now()));
  }
}

async function follower(): Promise<void> {
  while (loadOn) {
    const id = recent[recent.length - 1 - rnd(Math.min(recent.length, 20))];
    if (!id) { await sleep(500); continue; }
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), 2000 + rnd(20_000));
    try {
      const res = await fetch(`${API}/v1/runs/${id}/events?follow=1`, { headers: { accept: 'text/event-stream' }, signal: ac.signal });
      count(`sse_${res.status}`);
      if (res.body) for await (const chunk of res.body) count('sse_bytes', (chunk as Uint8Array).length);
      count('sse_ended');
    } catch { count('sse_left'); }
    clearTimeout(timer);
    await sleep(rnd(1000));
  }
}

async function lister(): Promise<void> {
  const filters = ['', 'graph=release_check', 'status=succeeded', 'status=running', 'status=cancelled', 'agent_id=agent-a', 'graph=postmortem_draft&status=succeeded', 'schedule_id=soak-triage'];
  while (loadOn) {
    let q = `${filters[rnd(filters.length)]}&limit=${5 + rnd(50)}`;
    for (let page = 0; page < 3; page++) {
      const res = await http(`/v1/runs?${q}`).catch(() => ({ status: 0, body: null }));
      count(`list_${res.status}`);
      const next = (res.body as { next_cursor?: string | null } | null)?.next_cursor;
      if (!next) break;
      q = `${q.replace(/&cursor=.*/, '')}&cursor=${encodeURIComponent(next)}`;
    }
    await sleep(1000 + rnd(2000));
  }
}

async function scraper(): Promise<void> {
  while (loadOn) {
    for (const p of procs(launcher.pid!)) await http(p.metricsUrl, {}, 5000).then(() => count('scrape_ok'), () => count('scrape_error'));
    await sleep(15_000);
  }
}

const SCHEDULES = [
  { id: 'soak-release', graph: 'release_check', every_sec: 5, agent_id: 'sofiia', input: { service: 'sched', version: '1.0.0' } },
  { id: 'soak-triage', graph: 'incident_triage', every_sec: 5, agent_id: 'sofiia', overlap: 'allow', input: { service: 'sched', incident_id: 'inc_sched', symptoms: 'x' } },
  { id: 'soak-postmortem', graph: 'postmortem_draft', every_sec: 5, agent_id: 'agent-b', overlap: 'allow', input: { incident_id: 'inc_sched_pm' } },
];

async function killer(loadEnd: number): Promise<void> {
  // worker 2 only: SIGTERM at 3 + 10k minutes, SIGKILL at 8 + 10k
  for (let k = 0; ; k++) {
    for (const [at, sig] of [[3, 'SIGTERM'], [8, 'SIGKILL']] as const) {
      const when = t0 + (10 * k + at) * 60_000;
      if (when >= loadEnd) return;
      while (Date.now() < when) { if (!loadOn) return; await sleep(1000); }
      const w = procs(launcher.pid!).find((p) => p.name === 'worker2');
      if (w) { process.kill(w.pid, sig); count(`kill_${sig}`); say(`[${tSec()}s] ${sig} worker2 pid ${w.pid}`); }
    }
  }
}

// ---------------------------------------------------------------- main
mkdirSync(LOGS, { recursive: true });
say(`soak: ${MINUTES} min at ${RATE} creates/s, redis ${REDIS_URL}, API ${API}, CSV ${CSV}, logs ${LOGS}; load ${load()}`);
if ((await redis.dbsize()) > 0) say(`warning: redis ${REDIS_URL} is not empty (${await redis.dbsize()} keys)`);

sim = start('gateway-sim', ['apps/gateway-sim/dist/main.js'], { SIM_PORT: String(SIM_PORT), SIM_API_KEY: KEY, SIM_JOB_DURATION_MS: '3000' });
await waitFor('gateway-sim', async () => (await fetch(`http://127.0.0.1:${SIM_PORT}/healthz`)).ok);
// 20–50 ms per tool
const latencyByTool: Record<string, number> = {};
for (const t of ['orchestrator', 'observability', 'incident', 'kb', 'cost', 'governance']) latencyByTool[t] = 20 + rnd(31);
await http(`http://127.0.0.1:${SIM_PORT}/_sim/config`, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ latencyMs: 35, latencyByTool }) });

launcher = start('launcher', ['apps/launcher/dist/main.js'], {
  REDIS_URL, PORT: String(API_PORT), HOST: '127.0.0.1', WORKERS: '2', WORKER_METRICS_PORT: String(METRICS_PORT),
  GATEWAY_URL: `http://127.0.0.1:${SIM_PORT}`, SUPERVISOR_API_KEY: KEY, LAUNCHER_LINE_PREFIX: 'true', API_KEYS: '',
  RUN_TTL_SEC: String(TTL), HOUSEKEEPING_EVERY_SEC: String(HK), JOB_POLL_INTERVAL_SEC: '1', WEBHOOK_SECRET: 'soak-secret', LOG_LEVEL: 'info',
});
await waitFor('API', async () => (await fetch(`${API}/healthz`)).ok);
await waitFor('workers', async () => procs(launcher.pid!).filter((p) => p.name.startsWith('worker')).length === 2);
await sleep(3 * HK * 1000); // a housekeeping pass or three: the idle system's own keys
await sample('before');

const loadStart = Date.now();
const loadEnd = loadStart + MINUTES * 60_000;
for (const s of SCHEDULES) count(`schedule_${(await http('/v1/schedules', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(s) })).status}`);
const tasks = [creator(), lister(), scraper(), killer(loadEnd), ...Array.from({ length: 20 }, () => follower())];
while (Date.now() < loadEnd) {
  await sleep(Math.min(SAMPLE_SEC * 1000, loadEnd - Date.now()));
  await sample(`load ${((Date.now() - loadStart) / 60_000).toFixed(1)} min`);
}
loadOn = false;
for (const s of SCHEDULES) count(`schedule_delete_${(await http(`/v1/schedules/${s.id}`, { method: 'DELETE' })).status}`);
await Promise.race([Promise.all(tasks), sleep(30_000)]);
const drainStart = Date.now();
say(`load stopped at ${tSec()} s; draining ${DRAIN_SEC} s; counters ${JSON.stringify(counters)}`);
while (Date.now() - drainStart < DRAIN_SEC * 1000) {
  await sleep(Math.min(SAMPLE_SEC * 1000, drainStart + DRAIN_SEC * 1000 - Date.now()));
  await sample(`drain ${Math.round((Date.now() - drainStart) / 1000)} s`);
}

// ---------------------------------------------------------------- report
const at = (pred: (s: (typeof samples)[number]) => boolean) => samples.find(pred);
const loadMin = (s: (typeof samples)[number]) => (s.t * 1000 + t0 - loadStart) / 60_000;
const drainS = (s: (typeof samples)[number]) => (s.t * 1000 + t0 - drainStart) / 1000;
const cols: Array<[string, (typeof samples)[number] | undefined]> = [
  ['before', samples[0]],
  ...[...new Set([2, 15, 30, MINUTES].filter((m) => m <= MINUTES))].map((m) => [`${m} min`, at((s) => loadMin(s) >= m - 0.05)] as [string, (typeof samples)[number] | undefined]),
  [`drain ${2 * TTL + 2 * HK} s`, at((s) => s.phase.startsWith('drain') && drainS(s) >= 2 * TTL + 2 * HK)],
  [`drain ${DRAIN_SEC} s`, samples[samples.length - 1]],
];
const names = [...new Set(samples.flatMap((s) => [...s.v.keys()]))].sort();
const fmt = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? '–' : Math.abs(x) >= 100 || Number.isInteger(x) ? String(Math.round(x)) : x.toFixed(1));
/** Least-squares slope per hour over the last two thirds of the load. */
function slope(name: string): number {
  const pts = samples.filter((s) => s.phase.startsWith('load') && loadMin(s) >= MINUTES / 3).map((s) => [loadMin(s) / 60, s.v.get(name)] as const).filter((p): p is readonly [number, number] => p[1] !== undefined && Number.isFinite(p[1]));
  if (pts.length < 3) return NaN;
  const mx = pts.reduce((a, p) => a + p[0], 0) / pts.length, my = pts.reduce((a, p) => a + p[1], 0) / pts.length;
  const sxx = pts.reduce((a, p) => a + (p[0] - mx) ** 2, 0);
  return sxx === 0 ? NaN : pts.reduce((a, p) => a + (p[0] - mx) * (p[1] - my), 0) / sxx;
}
console.log(`\n| figure | ${cols.map((c) => c[0]).join(' | ')} | slope/h (${Math.round(MINUTES / 3)}–${MINUTES} min) |`);
console.log(`|---|${cols.map(() => '---').join('|')}|---|`);
for (const n of names) console.log(`| ${n} | ${cols.map((c) => fmt(c[1]?.v.get(n))).join(' | ')} | ${fmt(slope(n))} |`);
console.log(`\ncounters: ${JSON.stringify(counters)}\nload average at the end: ${load()}`);

launcher.kill('SIGTERM');
await new Promise((r) => launcher.once('exit', r));
sim.kill('SIGTERM');
hook.close();
csv.end();
redis.disconnect();
