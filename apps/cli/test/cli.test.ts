import { describe, expect, it } from '@jest/globals';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RUN_ID_RE, type RunRecord } from '@sup/contracts';
import { RUN_ID_RE as CLI_RUN_ID_RE } from '../src/commands.js';
import { shellWord } from '../src/format.js';
import { cliHarness, INPUT, type Opts } from './harness.js';

/** The words a POSIX shell makes of `line` (no globbing; the line's own quoting decides the rest). */
const shellWords = (line: string) => execFileSync('sh', ['-c', `set -f; set -- ${line}; printf '%s\\0' "$@"`], { encoding: 'utf8' }).split('\0').slice(0, -1);

const h = cliHarness();
const { open, cli, created, finish } = h;

describe('supervisor runs create | get | cancel', () => {
  it('creates a run and shows it', async () => {
    const res = await cli(['runs', 'create', 'release_check', '--agent', 'sofiia', '--input', INPUT]);
    expect(res.code).toBe(0);
    const id = /created (gr_[a-z0-9]+) \(release_check, queued\)/.exec(res.out)?.[1];
    expect(id).toBeDefined();
    const got = await cli(['runs', 'get', id!]);
    expect(got.code).toBe(0);
    expect(got.out).toMatch(new RegExp(`^run\\s+${id}$`, 'm'));
    expect(got.out).toMatch(/^status\s+queued$/m);
    expect(JSON.parse((await cli(['runs', 'get', id!, '--json'])).out)).toMatchObject({ run_id: id, input: { service: 'billing', version: '1.4.2' } });
  });

  it('shows why and until when a waiting run waits', async () => {
    const id = await created();
    const rec = (await open.store.get(id))!;
    const until = new Date(Date.now() + 3_000).toISOString();
    const parked = await open.store.commit(id, { ifStatus: ['queued'], record: { ...rec, status: 'waiting', current_node: 'poll_job', waiting: { reason: 'job_running', until } } });
    expect(parked.ok).toBe(true);
    const got = await cli(['runs', 'get', id]);
    expect(got.out).toMatch(/^status\s+waiting$/m);
    expect(got.out).toMatch(new RegExp(`^waiting\\s+job_running until ${until}$`, 'm'));
  });

  it('says how many workers were lost in a row with the run\'s node in flight', async () => {
    const id = await created();
    const rec = (await open.store.get(id))!;
    const taken = await open.store.commit(id, { ifStatus: ['queued'], record: { ...rec, status: 'running', attempt: 3, takeovers: 2, stalls: 2 } });
    expect(taken.ok).toBe(true);
    expect((await cli(['runs', 'get', id])).out).toMatch(/^attempt\s+3 \(2 workers lost in a row in this node\)$/m);
  });

  it('reads --input from a file and honours --idempotency-key', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'sup-cli-')), 'input.json');
    writeFileSync(file, INPUT);
    const args = ['runs', 'create', 'release_check', '--agent', 'sofiia', '--input', `@${file}`, '--idempotency-key', 'cli-deploy-7', '--json'];
    const a = JSON.parse((await cli(args)).out) as RunRecord;
    const again = await cli(args.slice(0, -1));
    expect(again.code).toBe(0);
    expect(again.out).toBe(`existing run (same Idempotency-Key) ${a.run_id} (release_check, queued)`);
  });

  it('cancels a queued run, then reports the 409 of a second cancel as an API error', async () => {
    const id = await created();
    const res = await cli(['runs', 'cancel', id, '--reason', 'wrong version']);
    expect(res).toEqual({ code: 0, out: `${id} cancelled`, err: '' });
    const again = await cli(['runs', 'cancel', id]);
    expect(again.code).toBe(1);
    expect(again.err).toMatch(/^error: .*\(\w+, HTTP 409\)/);
    const events = await cli(['runs', 'events', id]);
    expect(events.out.split('\n').map((l) => l.split(/\s+/)[1])).toEqual(['run_created', 'run_cancel_requested', 'run_cancelled']);
  });

  it('shows a cancelled run\'s reason, its control and bidi characters escaped', async () => {
    const id = await created();
    expect((await cli(['runs', 'cancel', id, '--reason', 'wrong version 🚫 \u202eevil\nstatus    succeeded'])).code).toBe(0);
    const got = await cli(['runs', 'get', id]);
    expect(got.out).toMatch(/^status\s+cancelled$/m);
    expect(got.out.split('\n').filter((l) => /^(reason|status)\b/.test(l))).toEqual(['status    cancelled', 'reason    wrong version 🚫 \\u202eevil\\u000astatus    succeeded']);
  });

  it('--wait follows the run to its end: exit 0 when it succeeded, 3 when it did not', async () => {
    const follow = async (status: 'succeeded' | 'failed') => {
      let finished: Promise<void> | undefined;
      const res = await cli(['runs', 'create', 'release_check', '--agent', 'sofiia', '--input', INPUT, '--wait', '--interval', '0.05'], {
        onOut: (line) => {
          const id = /^created (gr_[a-z0-9]+)/.exec(line)?.[1];
          if (id && !finished) finished = finish(id, status);
        },
      });
      await finished;
      return res;
    };
    const ok = await follow('succeeded');
    expect(ok.code).toBe(0);
    expect(ok.out).toMatch(/run_succeeded/);
    expect(ok.out).toMatch(/^status\s+succeeded$/m);
    expect(ok.out).toMatch(/"verdict": "pass"/);
    const bad = await follow('failed');
    expect(bad.code).toBe(3);
    expect(bad.out).toMatch(/^error\s+job_failed: checks failed \(node poll_job\)$/m);
  });
});

describe('supervisor runs events --follow', () => {
  const followUntilCancelled = async (o: Opts = {}) => {
    const id = await created();
    let cancelled: Promise<unknown> | undefined;
    const res = await cli(['runs', 'events', id, '--follow', '--interval', '0.05'], {
      ...o,
      // cancel only once the follower has printed the first event: it is then live, not replaying
      onOut: (line) => {
        if (!cancelled && line.includes('run_created')) cancelled = cli(['runs', 'cancel', id]);
      },
    });
    await cancelled;
    return res;
  };

  it('prints every event live over SSE and stops at the end of the run', async () => {
    const types: string[] = [];
    const recording: typeof fetch = async (input, init) => {
      const res = await fetch(input, init);
      types.push(res.headers.get('content-type') ?? '');
      return res;
    };
    const res = await followUntilCancelled({ fetch: recording });
    expect(res.code).toBe(0);
    expect(types.some((t) => t.startsWith('text/event-stream'))).toBe(true);
    expect(res.out.split('\n').map((l) => l.split(/\s+/)[1])).toEqual(['run_created', 'run_cancel_requested', 'run_cancelled']);
  });

  it('falls back to polling the JSON events when the server does not stream', async () => {
    const urls: string[] = [];
    const noStreaming: typeof fetch = (input, init) => {
      urls.push(String(input));
      const headers = { ...(init?.headers as Record<string, string>), accept: 'application/json' };
      return fetch(input, { ...init, headers });
    };
    const res = await followUntilCancelled({ fetch: noStreaming });
    expect(res.code).toBe(0);
    expect(res.out.split('\n').map((l) => l.split(/\s+/)[1])).toEqual(['run_created', 'run_cancel_requested', 'run_cancelled']);
    expect(urls.some((u) => /events\?after=\d+-\d+/.test(u))).toBe(true);
  });

  it('resumes with Last-Event-ID when the stream drops mid-run and the API is unreachable for a while, printing nothing twice', async () => {
    const sent: Array<string | undefined> = [];
    const waits: number[] = [];
    let streams = 0;
    const flaky: typeof fetch = async (input, init) => {
      const headers = init?.headers as Record<string, string>;
      if (headers.accept !== 'text/event-stream') return fetch(input, init);
      sent.push(headers['last-event-id']);
      streams++;
      // the API restarting: refused twice
      if (streams === 2 || streams === 3) throw new TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } });
      const res = await fetch(input, init);
      if (streams !== 1) return res;
      // the first stream: cut right after the first event, as a killed API would
      const reader = res.body!.getReader();
      const cut = new ReadableStream<Uint8Array>({
        async pull(c) {
          const { value, done } = await reader.read();
          if (value) c.enqueue(value);
          if (done || new TextDecoder().decode(value).includes('run_created')) {
            await reader.cancel();
            c.error(new TypeError('terminated'));
          }
        },
      });
      return new Response(cut, { status: res.status, headers: res.headers });
    };
    const res = await followUntilCancelled({ fetch: flaky, sleep: async (ms) => void waits.push(ms) });
    expect(res.code).toBe(0);
    expect(res.out.split('\n').map((l) => l.split(/\s+/)[1])).toEqual(['run_created', 'run_cancel_requested', 'run_cancelled']);
    expect(sent[0]).toBeUndefined();
    expect(sent.slice(1)).toEqual([sent[1], sent[1], sent[1]]);
    expect(sent[1]).toMatch(/^\d+-\d+$/);
    expect(waits.slice(0, 3)).toEqual([500, 1_000, 2_000]);
  });

  it('gives up with the connection error once the API stayed unreachable past the limit', async () => {
    const id = await created();
    let t = 0;
    const down: typeof fetch = async (input, init) => {
      if ((init?.headers as Record<string, string>).accept === 'text/event-stream') throw new TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } });
      return fetch(input, init);
    };
    // every wait moves a fake clock on by its length: 0.5, 1, 2, 4, then 5 s each, past 60 s
    const res = await cli(['runs', 'events', id, '--follow'], { fetch: down, sleep: async (ms) => void (t += ms), now: () => t });
    expect(res.code).toBe(1);
    expect(res.err).toMatch(/^error: cannot reach http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED$/);
    expect(t).toBeGreaterThan(60_000);
  });

  it('--json prints one event object per line', async () => {
    const id = await created();
    const res = await cli(['runs', 'events', id, '--json']);
    expect(res.out.split('\n').map((l) => JSON.parse(l).type)).toEqual(['run_created']);
  });
});

describe('supervisor runs list | graphs', () => {
  it('lists recent runs newest first and filters them', async () => {
    const a = await created();
    const b = await created();
    const res = await cli(['runs', 'list', '--graph', 'release_check', '--agent', 'sofiia', '--limit', '2']);
    expect(res.code).toBe(0);
    const ids = res.out.split('\n').slice(1, 3).map((l) => l.split(/\s+/)[0]);
    expect(ids).toEqual([b, a]);
    expect(res.out).toMatch(/^more: supervisor runs list --graph release_check --agent sofiia --limit 2 --cursor \S+$/m);
    // the last page (here the only one) has no next page to point at
    expect((await cli(['runs', 'list', '--agent', 'nobody-here'])).out).toBe('no runs');
  });

  it('the "more:" line keeps every filter and the limit: walking --status succeeded never reaches a live run', async () => {
    const agent = `purge-${Date.now().toString(36)}`;
    const start = async () => JSON.parse((await cli(['runs', 'create', 'release_check', '--agent', agent, '--input', INPUT, '--json'])).out).run_id as string;
    const done: string[] = [];
    for (let i = 0; i < 3; i++) {
      const id = await start();
      await finish(id, 'succeeded');
      done.push(id);
      await start(); // a live run between each two finished ones
    }
    const seen: string[] = [];
    let argv = ['runs', 'list', '--status', 'succeeded', '--agent', agent, '--limit', '1'];
    for (let pages = 0; pages < 20; pages++) {
      const res = await cli(argv);
      expect(res.code).toBe(0);
      const lines = res.out.split('\n');
      seen.push(...lines.filter((l) => l.startsWith('gr_')).map((l) => l.split(/\s+/)[0]!));
      expect(lines.filter((l) => l.startsWith('gr_')).every((l) => l.split(/\s+/)[3] === 'succeeded')).toBe(true);
      const more = lines.find((l) => l.startsWith('more: '));
      if (!more) break;
      // as an operator's shell reads the line
      argv = shellWords(more.slice('more: '.length)).slice(1);
      expect(argv).toEqual(['runs', 'list', '--status', 'succeeded', '--agent', agent, '--limit', '1', '--cursor', expect.any(String)]);
    }
    expect(seen).toEqual(done.reverse());
  });

  it('the "more:" line names the --url it was given, and quotes what the shell would split', async () => {
    await created();
    await created();
    const res = await cli(['runs', 'list', '--url', `${h.url}/`, '--limit', '1']);
    const more = /^more: (.*)$/m.exec(res.out)![1]!;
    expect(shellWords(more)).toEqual(['supervisor', 'runs', 'list', '--url', `${h.url}/`, '--limit', '1', '--cursor', expect.any(String)]);
    expect(shellWord("it's a run")).toBe(`'it'\\''s a run'`);
    expect(shellWords(`x ${shellWord("it's $HOME `id` a\\b")} ${shellWord('')}`)).toEqual(['x', "it's $HOME `id` a\\b", '']);
  });

  it('shows the graphs with their nodes and input fields', async () => {
    const res = await cli(['graphs']);
    expect(res.code).toBe(0);
    expect(res.out).toContain('  nodes: start_job → poll_job → result');
    expect(res.out).toMatch(/input: service: string, version: string/);
    const json = JSON.parse((await cli(['graphs', '--json'])).out);
    expect(json.graphs.map((g: { name: string }) => g.name)).toEqual(expect.arrayContaining(['release_check', 'incident_triage', 'postmortem_draft']));
  });
});

describe('errors and exit codes', () => {
  it.each([
    ['an unknown run', ['runs', 'get', 'gr_doesnotexist1'], /^error: no run gr_doesnotexist1 \(run_not_found, HTTP 404\)$/],
    ['an unknown graph', ['runs', 'create', 'nope', '--agent', 'sofiia'], /^error: unknown graph "nope" \(graph_not_found, HTTP 404\)/],
    ['input failing the graph schema', ['runs', 'create', 'release_check', '--agent', 'sofiia', '--input', '{"service":"x"}'], /is invalid: version: .* \(validation_failed, HTTP 400\)\n {2}version: /],
    ['an unreachable API', ['graphs', '--url', 'http://127.0.0.1:1'], /^error: cannot reach http:\/\/127\.0\.0\.1:1: /],
  ])('%s → exit 1 with the message', async (_name, argv, message) => {
    const res = await cli(argv);
    expect(res.code).toBe(1);
    expect(res.err).toMatch(message);
    expect(res.out).toBe('');
  });

  it.each([
    ['no command', []],
    ['an unknown command', ['runs', 'explode']],
    ['a missing argument', ['runs', 'get']],
    ['an extra argument', ['graphs', 'release_check']],
    ['an unknown option', ['runs', 'get', 'gr_abcdef1', '--bogus']],
    ['an option of another command', ['runs', 'get', 'gr_abcdef1', '--reason', 'x']],
    ['create without --agent', ['runs', 'create', 'release_check']],
    ['--input that is not JSON', ['runs', 'create', 'release_check', '--agent', 'sofiia', '--input', '{service:']],
    ['--input that is not an object', ['runs', 'create', 'release_check', '--agent', 'sofiia', '--input', '[1]']],
    ['--input from a missing file', ['runs', 'create', 'release_check', '--agent', 'sofiia', '--input', '@/nonexistent/x.json']],
    ['a --url that is not a URL', ['graphs', '--url', 'notaurl']],
    ['a --url that is not http(s)', ['graphs', '--url', 'ftp://host']],
    ['a --limit that is not a number', ['runs', 'list', '--limit', 'ten']],
    // GET /v1/runs/ would answer the listing, /v1/runs/../cancel another route
    ...[['runs', 'get'], ['runs', 'events'], ['runs', 'cancel'], ['runs', 'rerun']].flatMap((c) =>
      ['', '.', '..', 'gr_', 'GR_ABCDEFG', 'gr_abc/def', 'gr_abcdefg?x=1', `gr_${'a'.repeat(41)}`].map((id) => [`${c.join(' ')} of ${JSON.stringify(id)}, not a run id`, [...c, id]])),
    ...['', '.', '..'].map((g) => [`runs create of graph ${JSON.stringify(g)}`, ['runs', 'create', g, '--agent', 'sofiia']]),
    ['create --interval without --wait', ['runs', 'create', 'release_check', '--agent', 'sofiia', '--input', INPUT, '--interval', '5']],
    ['rerun --interval without --wait', ['runs', 'rerun', 'gr_abcdef1', '--interval', '5']],
    ['events --interval without --follow', ['runs', 'events', 'gr_abcdef1', '--interval', '5']],
  ] as Array<[string, string[]]>)('%s → exit 2 (usage), before any request', async (_name, argv) => {
    const requests: string[] = [];
    const res = await cli(argv, { fetch: (input, init) => (requests.push(String(input)), fetch(input, init)) });
    expect(requests).toEqual([]);
    expect(res.code).toBe(2);
    // the command's own usage when there is a command
    expect(res.err).toMatch(/^supervisor: .+\nrun 'supervisor (runs [a-z]+ |graphs )?--help' for usage$/);
  });

  it('the CLI\'s run id pattern is the API\'s', () => {
    expect(CLI_RUN_ID_RE.source).toBe(RUN_ID_RE.source);
    expect(CLI_RUN_ID_RE.flags).toBe(RUN_ID_RE.flags);
  });

  it('--help prints the usage and exits 0', async () => {
    const res = await cli(['--help']);
    expect(res.code).toBe(0);
    expect(res.out).toMatch(/^usage: supervisor/);
  });

  it('sends the API key from --api-key or the environment', async () => {
    const none = await cli(['graphs'], { env: { SUPERVISOR_URL: h.securedUrl } });
    expect(none.code).toBe(1);
    expect(none.err).toMatch(/\(unauthorized, HTTP 401\)/);
    expect((await cli(['graphs', '--api-key', 'cli-key'], { env: { SUPERVISOR_URL: h.securedUrl } })).code).toBe(0);
    expect((await cli(['graphs'], { env: { SUPERVISOR_URL: h.securedUrl, SUPERVISOR_API_KEY_CLI: 'cli-key' } })).code).toBe(0);
    expect((await cli(['graphs'], { env: { SUPERVISOR_URL: h.securedUrl, API_KEY: 'cli-key' } })).code).toBe(0);
  });
});

describe('the supervisor binary', () => {
  it('exits 0, quietly, when the reader of its output has gone (| head)', async () => {
    const main = join(import.meta.dirname, '../src/main.ts');
    const child = spawn(process.execPath, ['--import', 'tsx', main, 'graphs'], {
      cwd: join(import.meta.dirname, '../../..'), env: { ...process.env, SUPERVISOR_URL: h.url },
    });
    child.stdout.destroy(); // the pipe's reader closes before anything is written
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const code = await new Promise((resolve) => child.on('exit', resolve));
    expect([code, stderr]).toEqual([0, '']);
  });

  it('exits with the code and prints the error of a real process', async () => {
    const main = join(import.meta.dirname, '../src/main.ts');
    const child = spawn(process.execPath, ['--import', 'tsx', main, 'runs', 'get', 'gr_doesnotexist2'], {
      cwd: join(import.meta.dirname, '../../..'), env: { ...process.env, SUPERVISOR_URL: h.url },
    });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const code = await new Promise((resolve) => child.on('exit', resolve));
    expect(stderr).toBe('error: no run gr_doesnotexist2 (run_not_found, HTTP 404)\n');
    expect(code).toBe(1);
  });
});
