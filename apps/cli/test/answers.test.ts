import { describe, expect, it } from '@jest/globals';
import type { ServerResponse } from 'node:http';
import { cliHarness } from './harness.js';

// What the CLI makes of answers that are not the supervisor API's: one line, exit 1, never a stack.
const h = cliHarness();
const { cli } = h;

/** A web server that answers every request with `answer`. */
const server = (answer: (res: ServerResponse) => void) => h.listen((_req, res) => answer(res));
const html = (status: number) => server((res) => res.writeHead(status, { 'content-type': 'text/html; charset=utf-8' }).end('<!doctype html><title>Welcome to nginx!</title>'));

const EVERY_COMMAND = [
  ['graphs'], ['runs', 'get', 'gr_abcdef1'], ['runs', 'list'], ['runs', 'events', 'gr_abcdef1'], ['runs', 'events', 'gr_abcdef1', '--follow'],
  ['runs', 'cancel', 'gr_abcdef1'], ['runs', 'create', 'release_check', '--agent', 'sofiia'], ['runs', 'rerun', 'gr_abcdef1'],
].map((argv) => [argv.join(' '), argv] as const);

describe('a --url that is not the supervisor API', () => {
  it.each(EVERY_COMMAND)('a 2xx HTML page → "is --url the supervisor API?", exit 1 (%s)', async (_name, argv) => {
    const url = await html(200);
    const res = await cli([...argv, '--url', url]);
    expect(res).toEqual({ code: 1, out: '', err: `error: ${url} answered 200 with text/html, not JSON: is --url the supervisor API?` });
  });

  it.each(EVERY_COMMAND)('2xx JSON of another shape → the same question, exit 1 (%s)', async (_name, argv) => {
    const url = await server((res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok","runs":[{"id":1}],"events":"none"}'));
    const res = await cli([...argv, '--url', url]);
    expect(res).toEqual({ code: 1, out: '', err: `error: ${url} answered 200 with JSON the supervisor API does not answer there: is --url the supervisor API?` });
  });

  it('an error status with an HTML body says what came, exit 1', async () => {
    const url = await html(404);
    const res = await cli(['runs', 'get', 'gr_abcdef1', '--url', url]);
    expect(res).toEqual({ code: 1, out: '', err: `error: ${url} answered HTTP 404 Not Found with text/html, not the supervisor API's JSON error` });
  });

  it('a connection dropped in the middle of the answer is a network error, exit 1', async () => {
    const url = await server((res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' }).write('{"graphs":[');
      setImmediate(() => res.destroy());
    });
    const res = await cli(['graphs', '--url', url]);
    expect(res.code).toBe(1);
    expect(res.err).toMatch(new RegExp(`^error: lost the connection while reading the answer of ${url}: \\S+$`));
  });

  it('a bug of its own is still one line, not a stack', async () => {
    // a fetch that answers nothing at all: a TypeError inside the client
    const broken = await cli(['graphs'], { fetch: () => Promise.resolve(null as unknown as Response) });
    expect(broken.code).toBe(1);
    expect(broken.err).toMatch(/^supervisor: internal error: TypeError: [^\n]+$/);
  });
});

describe('--json errors', () => {
  it('prints the API\'s error body as it came, on stderr; exit codes as without --json', async () => {
    const res = await cli(['runs', 'get', 'gr_nosuchrun9', '--json']);
    expect(res.code).toBe(1);
    expect(res.out).toBe('');
    expect(JSON.parse(res.err)).toEqual({ error: { code: 'run_not_found', message: 'no run gr_nosuchrun9', details: null } });

    const invalid = await cli(['runs', 'create', 'release_check', '--agent', 'sofiia', '--input', '{"service":"x"}', '--json']);
    expect(invalid.code).toBe(1);
    expect(JSON.parse(invalid.err)).toMatchObject({ error: { code: 'validation_failed', details: [expect.objectContaining({ path: 'version' })] } });
  });

  it('errors of the CLI itself take the same shape: unreachable, not the API, usage', async () => {
    const down = await cli(['graphs', '--url', 'http://127.0.0.1:1', '--json']);
    expect(down.code).toBe(1);
    expect(JSON.parse(down.err)).toEqual({ error: { code: 'unreachable', message: expect.stringMatching(/^cannot reach http:\/\/127\.0\.0\.1:1: /), details: null } });
    const url = await html(200);
    const other = await cli(['graphs', '--url', url, '--json']);
    expect(JSON.parse(other.err)).toEqual({ error: { code: 'not_supervisor_api', message: expect.stringContaining('is --url the supervisor API?'), details: null } });
    for (const argv of [['runs', 'get', '.', '--json'], ['runs', 'list', '--json', '--bogus'], ['--json', 'nope']]) {
      const usage = await cli(argv);
      expect(usage.code).toBe(2);
      expect(JSON.parse(usage.err)).toEqual({ error: { code: 'usage', message: expect.any(String), details: null } });
    }
  });
});
