/**
 * Bad input: N generated malformed requests against one API process (raw bytes over TCP, so
 * anything can be sent): wrong types, huge bodies, deep JSON, bad run ids and paths, invalid UTF-8,
 * header abuse, query abuse, odd methods, prototype-pollution keys. Checks: zero 5xx answers, the
 * process stays up (and /healthz answers), its memory returns to the baseline (heap used from
 * /metrics after a settle; RSS reported too).
 *
 *   pnpm exec tsx chaos/bad-input.ts [--short] [--requests=1000] [--seed=7]
 */
import { connect } from 'node:net';
import { arg, mb, procStats } from '../bench/lib/util.js';
import { chaosSystem, finish, load, say, SHORT, sleep, watchdog, startSystem } from './lib.js';

const REQUESTS = arg('requests', SHORT ? 300 : 1000);
let seed = arg('seed', 7);
watchdog(SHORT ? 60_000 : 300_000);
const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;

const loadBefore = load();
const { server, System, admin } = await chaosSystem();
const sys = await startSystem(System, { workers: 0 });
const api = sys.apis[0]!;
const port = Number(new URL(sys.apiUrl).port);

/** Sends raw bytes; resolves with the answer's status (null: the server closed without one). */
function raw(bytes: Buffer): Promise<number | null> {
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1');
    let buf = '';
    let settled = false;
    const done = (s: number | null) => {
      if (settled) return;
      settled = true;
      sock.destroy();
      resolve(s);
    };
    sock.setTimeout(10_000, () => done(null));
    sock.on('data', (d) => {
      buf += d.toString('latin1');
      // skip interim answers (100 Continue): the final status is what counts
      for (const m of buf.matchAll(/HTTP\/1\.[01] (\d{3})[^\r]*\r\n/g)) if (!m[1]!.startsWith('1')) return done(Number(m[1]));
    });
    sock.on('error', () => done(null));
    sock.on('close', () => done(null));
    sock.write(bytes, () => undefined);
  });
}

const G = '/v1/graphs/release_check/runs';
function http(method: string, path: string, headers: Array<[string, string]> = [], body?: Buffer | string, opts: { noLength?: boolean; version?: string } = {}): Buffer {
  const b = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(body);
  const hs: Array<[string, string]> = [['Host', '127.0.0.1'], ['Connection', 'close'], ...headers];
  if (b && !opts.noLength && !headers.some(([k]) => /^(content-length|transfer-encoding)$/i.test(k))) hs.push(['Content-Length', String(b.length)]);
  const head = `${method} ${path} ${opts.version ?? 'HTTP/1.1'}\r\n${hs.map(([k, v]) => `${k}: ${v}`).join('\r\n')}\r\n\r\n`;
  return b ? Buffer.concat([Buffer.from(head, 'latin1'), b]) : Buffer.from(head, 'latin1');
}
const JSONH: Array<[string, string]> = [['Content-Type', 'application/json']];
const valid = { agent_id: 'a', input: { service: 's', version: '1' } };
const json = (v: unknown) => http('POST', G, JSONH, typeof v === 'string' ? v : JSON.stringify(v));
const deep = (depth: number, open: string, close: string) => open.repeat(depth) + close.repeat(depth);

const families: Record<string, () => Buffer> = {
  wrong_types: () => json(pick<unknown>([
    { agent_id: 123, input: {} }, { agent_id: 'a', input: 'x' }, { agent_id: 'a', input: { service: 123, version: [] } },
    [], 'str', 42, null, true, { agent_id: 'a', input: { service: 's', version: '1', timeout_sec: -5 } },
    { agent_id: 'a', input: { service: 's', version: '1', checks: 'all' } }, { ...valid, metadata: 'x' }, { ...valid, webhook: 'javascript:alert(1)' },
    { ...valid, webhook: 'file:///etc/passwd' }, { agent_id: 'a b', input: {} }, { agent_id: '', input: {} }, { agent_id: 'x'.repeat(5000), input: {} },
    { agent_id: 'a', input: { service: 's'.repeat(200), version: '1' } }, { agent_id: 'a', input: null }, { agent_id: 'a', input: [1, 2] },
  ])),
  bad_json: () => json(pick(['{', '{"agent_id":', '{"a":1,}', "{'a':1}", 'NaN', '{"a":1e999999}', '{"agent_id":"a","agent_id":"b","input":{}}', '\u0000', '', ' ', '{"a":"\\ud800"}', '{"a":"\\x41"}'])),
  prototype_keys: () => json(pick([
    '{"__proto__":{"polluted":1},"agent_id":"a","input":{"service":"s","version":"1"}}',
    '{"constructor":{"prototype":{"polluted":1}},"agent_id":"a","input":{"service":"s","version":"1"}}',
    '{"agent_id":"a","input":{"__proto__":{"service":"s"},"version":"1"}}',
    '{"agent_id":"a","input":{"service":"s","version":"1"},"metadata":{"__proto__":{"isAdmin":true}}}',
  ])),
  huge_body: () => {
    const size = pick([300_000, 1_000_000, rnd() < 0.2 ? 8_000_000 : 600_000]);
    return json(`{"agent_id":"a","input":{"service":"${'x'.repeat(size)}","version":"1"}}`);
  },
  deep_json: () => {
    const depth = pick([1_000, 10_000, 60_000, 120_000]);
    return pick([
      () => json(`{"agent_id":"a","input":{"service":"s","version":"1","x":${deep(depth, '[', ']')}}}`),
      () => json(`{"agent_id":"a","input":{"service":"s","version":"1"},"metadata":{"m":${deep(depth, '[', ']')}}}`),
      () => json(`{"agent_id":"a","input":{"service":"s","version":"1"},"metadata":${'{"a":'.repeat(Math.min(depth, 40_000))}1${'}'.repeat(Math.min(depth, 40_000))}}`),
      () => json(deep(depth, '[', ']')),
    ])();
  },
  bad_ids: () => pick([
    () => http('GET', `/v1/runs/${pick(['..%2F..%2Fetc%2Fpasswd', '%00', '%zz', '%C0%AF', '%E0%A4%A', 'gr_' + 'a'.repeat(5000), 'gr_%F0%9F%92%A9', '*', 'run:gr_x', 'gr_abc\u00ff', '%2e%2e'])}`),
    () => http('GET', `/v1/runs/${pick(['gr_nonexistent0001', '%ff%fe', 'gr_x'])}/events?after=${pick(['abc', '-1', '99999999999999999999999-1', '%00', '1-1-1'])}&limit=${pick(['-1', '0', '1e9', 'abc', '[]'])}`),
    () => http('POST', `/v1/runs/${pick(['gr_nonexistent0001', '%00', '..', 'gr_' + 'z'.repeat(300)])}/cancel`, JSONH, pick(['{"reason":5}', '{}', '[]', '{"reason":"' + 'r'.repeat(600) + '"}'])),
    () => http('POST', `/v1/graphs/${pick(['__proto__', 'constructor', 'toString', '..%2f', '%00', 'x'.repeat(3000), 'hasOwnProperty'])}/runs`, JSONH, JSON.stringify(valid)),
    () => http('GET', `/${'a/'.repeat(pick([10, 500, 3000]))}`),
    () => http('GET', `/v1/runs/gr_x/events`, [['Accept', 'text/event-stream'], ['Last-Event-ID', pick(['abc', '\u00ff\u00fe', 'x'.repeat(3000), '1-1'])]]),
  ])(),
  invalid_utf8: () => pick([
    () => http('POST', G, JSONH, Buffer.concat([Buffer.from('{"agent_id":"a","input":{"service":"'), Buffer.from([0xff, 0xfe, 0xc0, 0xaf, 0xed, 0xa0, 0x80]), Buffer.from('","version":"1"}}')])),
    () => http('POST', G, [['Content-Type', 'application/json; charset=utf-8']], Buffer.from([0x7b, 0xff, 0xfe, 0xfd, 0x7d])),
    () => http('POST', G, [['Content-Type', pick(['application/json; charset=latin1', 'application/json; charset=utf-16', 'application/json; charset=utf-7', 'application/json; charset=koi8-r', 'application/json; charset=nonsense'])]], JSON.stringify(valid)),
    () => Buffer.concat([Buffer.from('GET /v1/runs/'), Buffer.from([0xff, 0xfe, 0x80]), Buffer.from(' HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')]),
    () => Buffer.concat([Buffer.from(`POST ${G} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nIdempotency-Key: `), Buffer.from([0xff, 0xfe]), Buffer.from(`\r\nContent-Length: ${JSON.stringify(valid).length}\r\n\r\n${JSON.stringify(valid)}`)]),
  ])(),
  header_abuse: () => pick([
    () => http('GET', '/healthz', [['X-Big', 'h'.repeat(pick([20_000, 80_000]))]]),
    () => http('GET', '/v1/runs', Array.from({ length: pick([150, 500]) }, (_, i): [string, string] => [`X-H${i}`, 'v'])),
    () => http('POST', G, [...JSONH, ['Content-Length', String(pick([-1, 'abc', '1e3', '99999999999']))]], JSON.stringify(valid)),
    () => http('POST', G, [...JSONH, ['Content-Length', '10'], ['Transfer-Encoding', 'chunked']], JSON.stringify(valid)),
    () => http('POST', G, [...JSONH, ['Content-Length', '5'], ['Content-Length', '50']], JSON.stringify(valid)),
    () => http('POST', G, [...JSONH, ['Transfer-Encoding', 'chunked']], `zz\r\n${JSON.stringify(valid)}\r\n0\r\n\r\n`),
    () => http('POST', G, [...JSONH, ['Content-Encoding', pick(['gzip', 'br', 'deflate', 'zstd', 'x-compress'])]], 'not compressed'),
    () => http('POST', G, [...JSONH, ['Idempotency-Key', pick(['has space', 'k'.repeat(5_000), '', '\t'])]], JSON.stringify(valid)),
    () => http('GET', '/v1/runs', [['Authorization', pick(['Bearer ' + 'x'.repeat(8_000), 'Basic ???', 'Bearer', ''])]]),
    () => http('POST', G, [['Content-Type', pick(['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/json, text/html', ''])]], JSON.stringify(valid)),
    () => http('POST', G, [...JSONH, ['Expect', '100-continue']], JSON.stringify(valid)),
    () => Buffer.from(pick(['GARBAGE\r\n\r\n', 'GET /\r\n\r\n', 'GET / HTTP/9.9\r\nHost: x\r\n\r\n', '\r\n\r\n\r\n', 'GET / HTTP/1.1\r\nBad Header\r\n\r\n', 'GET / HTTP/1.1\r\nHost: x\r\nX:\u0000\r\n\r\n'])),
    () => http('GET', '/healthz', [], undefined, { version: 'HTTP/1.0' }),
  ])(),
  query_abuse: () => http('GET', `/v1/runs?${pick([
    'limit=-1', 'limit=99999999', 'limit=abc', 'cursor=!!!', 'cursor=' + 'c'.repeat(4000), 'status[]=x&status[]=y', 'graph[$ne]=1', 'status=%00',
    Array.from({ length: 2000 }, (_, i) => `p${i}=${i}`).join('&'), 'agent_id=' + '%ff'.repeat(100), '__proto__[x]=1', 'limit=1&limit=2', 'a[b][c][d][e][f][g]=1',
  ])}`),
  methods: () => http(pick(['PUT', 'DELETE', 'PATCH', 'TRACE', 'OPTIONS', 'PROPFIND', 'HEAD']), pick(['/v1/runs', G, '/healthz', '/v1/runs/gr_x', '/admin/queues', '/metrics'])),
};

async function heapUsed(): Promise<number> {
  const res = await fetch(`${sys.apiUrl}/metrics`).catch(() => undefined);
  const m = res && res.ok ? (await res.text()).match(/^nodejs_heap_size_used_bytes (\S+)/m) : null;
  return m ? Number(m[1]) : NaN;
}

const t0 = Date.now();
const pid = api.child.pid!;
// baseline after warm-up with valid traffic (JIT, pools, scripts)
for (let i = 0; i < 100; i++) await raw(json(valid));
await sleep(1_000);
const base = { rss: procStats(pid)!.rssBytes, heap: await heapUsed() };

const names = Object.keys(families);
const byFamily: Record<string, Record<string, number>> = {};
const fivexx: string[] = [];
let sent = 0;
await Promise.all(Array.from({ length: 8 }, async () => {
  while (sent < REQUESTS) {
    const family = names[sent++ % names.length]!;
    const status = await raw(families[family]!());
    const k = status === null ? 'closed' : String(status);
    (byFamily[family] ??= {})[k] = (byFamily[family]![k] ?? 0) + 1;
    if (status !== null && status >= 500) fivexx.push(`${family}:${status}`);
  }
}));
const peak = procStats(pid)?.rssBytes ?? NaN;
await sleep(SHORT ? 2_000 : 5_000);
const after = { rss: procStats(pid)?.rssBytes ?? NaN, heap: await heapUsed() };
const alive = api.child.exitCode === null && api.child.signalCode === null;
const health = await fetch(`${sys.apiUrl}/healthz`).then((r) => r.status).catch(() => 0);
const stillWorks = (await sys.api('POST', G, valid)).status;
const seconds = ((Date.now() - t0) / 1000).toFixed(1);
const errorLines = api.lines.filter((l) => /request_error|\[ERROR\]/.test(l));
for (const [f, c] of Object.entries(byFamily)) say(`${f.padEnd(15)} ${JSON.stringify(c)}`);
say(`api rss baseline ${mb(base.rss)} peak ${mb(peak)} settled ${mb(after.rss)}; heap used ${mb(base.heap)} → ${mb(after.heap)}; error log lines ${errorLines.length}${errorLines[0] ? `: ${errorLines[0]}` : ''}`);
say(`load before ${loadBefore}, after ${load()}`);
await sys.stop().catch(() => undefined);
await admin.quit();
await server.stop();

// heap back within 20 MB of the baseline (GC timing), RSS reported (the allocator keeps pages)
const heapOk = Number.isNaN(base.heap) || after.heap - base.heap < 20 * 1048576;
const failures: string[] = [];
if (fivexx.length) failures.push(`${fivexx.length} answers were 5xx: ${[...new Set(fivexx)].join(',')}`);
if (!alive) failures.push('the API process died');
if (health !== 200 || stillWorks !== 202) failures.push(`after the abuse: /healthz ${health}, POST ${stillWorks}`);
if (!heapOk) failures.push(`heap did not return to baseline: ${mb(base.heap)} → ${mb(after.heap)}`);
const statuses: Record<string, number> = {};
for (const c of Object.values(byFamily)) for (const [k, v] of Object.entries(c)) statuses[k] = (statuses[k] ?? 0) + v;
finish({
  runs: 0, succeeded: 0, lost: 0, duplicated_nodes: 0, requests: sent, '5xx': fivexx.length, closed: statuses.closed ?? 0,
  statuses: Object.entries(statuses).sort().map(([k, v]) => `${k}:${v}`).join(','), api_alive: alive ? 1 : 0,
  heap_base_mb: (base.heap / 1048576).toFixed(1), heap_after_mb: (after.heap / 1048576).toFixed(1),
  rss_base_mb: (base.rss / 1048576).toFixed(1), rss_peak_mb: (peak / 1048576).toFixed(1), rss_after_mb: (after.rss / 1048576).toFixed(1), seconds,
}, failures);
