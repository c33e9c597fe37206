import { afterAll, beforeAll, expect } from '@jest/globals';
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { event, type RunRecord } from '@sup/contracts';
import { testApp } from '../../api/test/helpers.js';
import { run, type CliIo } from '../src/cli.js';

export interface Opts { env?: Record<string, string>; fetch?: typeof fetch; onOut?: (line: string) => void; sleep?: (ms: number) => Promise<void>; now?: () => number }

export type CliResult = { code: number; out: string; err: string };

export interface Harness {
  open: ReturnType<typeof testApp>;
  secured: ReturnType<typeof testApp>;
  /** The open API's base URL, and the secured one's (set in beforeAll). */
  url: string;
  securedUrl: string;
  listen(app: RequestListener): Promise<string>;
  cli(argv: string[], o?: Opts): Promise<CliResult>;
  created(extra?: string[]): Promise<string>;
  finish(runId: string, status: 'succeeded' | 'failed'): Promise<void>;
}

export const INPUT = '{"service":"billing","version":"1.4.2"}';

/**
 * The CLI against the real API (createApp in-process, real Redis under a prefix of its own): one
 * open API, one that wants the key `cli-key`, and `listen` for fake servers of a test's own.
 */
export function cliHarness(): Harness {
  const open = testApp();
  const secured = testApp({ apiKeys: ['cli-key'] });
  const servers: Server[] = [];
  const h: Harness = {
    open, secured, url: '', securedUrl: '',

    listen(app) {
      const server = createServer(app);
      servers.push(server);
      return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)));
    },

    async cli(argv, o = {}) {
      const out: string[] = [];
      const err: string[] = [];
      const io: CliIo = {
        env: { SUPERVISOR_URL: h.url, ...o.env },
        out: (s) => {
          out.push(s);
          o.onOut?.(s);
        },
        err: (s) => void err.push(s),
        ...(o.fetch ? { fetch: o.fetch } : {}),
        ...(o.sleep ? { sleep: o.sleep } : {}),
        ...(o.now ? { now: o.now } : {}),
      };
      const code = await run(argv, io);
      return { code, out: out.join('\n'), err: err.join('\n') };
    },

    /** A queued release_check run of agent sofiia; its id. */
    async created(extra = []) {
      const res = await h.cli(['runs', 'create', 'release_check', '--agent', 'sofiia', '--input', INPUT, ...extra, '--json']);
      expect(res.code).toBe(0);
      return (JSON.parse(res.out) as RunRecord).run_id;
    },

    /** What a worker does when a run ends: one commit with the final record and events. */
    async finish(runId, status) {
      const rec = (await open.store.get(runId))!;
      const now = new Date().toISOString();
      const res = await open.store.commit(runId, {
        ifStatus: ['queued'],
        record: {
          ...rec, status, started_at: now, finished_at: now, updated_at: now, attempt: 1, current_node: null,
          result: status === 'succeeded' ? { verdict: 'pass' } : null,
          error: status === 'failed' ? { code: 'job_failed', message: 'checks failed', node: 'poll_job' } : null,
          nodes: [{ node: 'start_job', status: 'succeeded', started_at: now, finished_at: now, duration_ms: 12, tool_calls: 1, visit: 1 }],
        },
        events: [event('node_finished', 'start_job'), event(status === 'succeeded' ? 'run_succeeded' : 'run_failed')],
      });
      expect(res.ok).toBe(true);
    },
  };

  beforeAll(async () => {
    h.url = await h.listen(open.app);
    h.securedUrl = await h.listen(secured.app);
  });
  afterAll(async () => {
    for (const s of servers) {
      s.closeAllConnections();
      await new Promise((r) => s.close(r));
    }
    await open.close();
    await secured.close();
  });
  return h;
}
