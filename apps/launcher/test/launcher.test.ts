import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, afterEach, describe, expect, it } from '@jest/globals';
import { createLogger } from '@sup/logging';
import { until } from '@sup/testkit';
import type { ChildSpec, RestartPolicy } from '../src/child.js';
import { launch, type Launched } from '../src/launcher.js';

// Children are real node processes running small scripts: each appends what happens to it to a
// journal file, so the order of events across processes can be asserted.
const dir = mkdtempSync(join(tmpdir(), 'launcher-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const script = (name: string, body: string) => {
  const file = join(dir, `${name}.cjs`);
  writeFileSync(file, body);
  return file;
};
const journal = () => join(dir, `journal-${Math.random().toString(36).slice(2)}`);
const read = (file: string) => { try { return readFileSync(file, 'utf8').trim().split('\n'); } catch { return []; } };

/** Runs until SIGTERM; notes `start`, `term` and, after `STOP_MS`, `exit`. */
const longRunning = script('long', `
const fs = require('fs'); const j = process.env.JOURNAL, n = process.env.NAME;
fs.appendFileSync(j, n + ' start ' + process.pid + '\\n');
process.on('SIGTERM', () => { fs.appendFileSync(j, n + ' term\\n');
  setTimeout(() => { fs.appendFileSync(j, n + ' exit\\n'); process.exit(0); }, Number(process.env.STOP_MS || 0)); });
setInterval(() => {}, 1000);
`);
/** Exits with code 3 right after its start. */
const crashing = script('crash', `
require('fs').appendFileSync(process.env.JOURNAL, process.env.NAME + ' start\\n'); process.exit(3);
`);

const FAST: RestartPolicy = { minDelayMs: 10, maxDelayMs: 40, stableAfterMs: 60_000, quickExitLimit: 3 };
const spec = (name: string, file: string, j: string, extra: Record<string, string> = {}): ChildSpec => ({
  name, command: process.execPath, args: [file], env: { PATH: process.env.PATH ?? '', JOURNAL: j, NAME: name, ...extra },
});

function logger() {
  const stream = new PassThrough();
  const lines: string[] = [];
  stream.on('data', (b: Buffer) => lines.push(...b.toString().split('\n').filter(Boolean)));
  return { log: createLogger({ service: 'launcher', level: 'info', stream }), lines };
}

let running: Launched | undefined;
afterEach(() => {
  running?.kill();
  running = undefined;
});

describe('launch', () => {
  it('stops the workers first and the API only once every worker has exited', async () => {
    const j = journal();
    const { log } = logger();
    let done: number | undefined;
    running = launch({
      api: spec('api', longRunning, j),
      workers: [spec('worker1', longRunning, j, { STOP_MS: '200' }), spec('worker2', longRunning, j, { STOP_MS: '50' })],
      log, policy: FAST, onDone: (code) => { done = code; },
    });
    await until('all three started', () => read(j).filter((l) => l.includes(' start ')).length === 3);
    await running.stop('SIGTERM');
    const events = read(j);
    expect(done).toBe(0);
    expect(events.indexOf('api term')).toBeGreaterThan(events.indexOf('worker1 exit'));
    expect(events.indexOf('api term')).toBeGreaterThan(events.indexOf('worker2 exit'));
    expect(events).toContain('api exit');
  });

  it('starts a child again when it exits by itself, the others untouched', async () => {
    const j = journal();
    const { log, lines } = logger();
    running = launch({ api: spec('api', longRunning, j), workers: [spec('worker1', longRunning, j)], log, policy: FAST, onDone: () => undefined });
    await until('both started', () => read(j).length === 2);
    const pid = (name: string) => Number(read(j).filter((l) => l.startsWith(`${name} start`)).at(-1)!.split(' ')[2]);
    const [firstWorker, api] = [pid('worker1'), pid('api')];
    process.kill(firstWorker, 'SIGKILL');
    await until('worker1 started again', () => read(j).filter((l) => l.startsWith('worker1 start')).length === 2);
    expect(pid('worker1')).not.toBe(firstWorker);
    expect(pid('api')).toBe(api);
    expect(lines.join('\n')).toMatch(/child_exited name=worker1 code=null signal=SIGKILL .*restart_in_ms=10/);
    await running.stop('SIGTERM');
  });

  it('gives a child up after quickExitLimit quick exits in a row and stops everything with code 1', async () => {
    const j = journal();
    const { log, lines } = logger();
    let done: number | undefined;
    running = launch({ api: spec('api', longRunning, j), workers: [spec('worker1', crashing, j)], log, policy: FAST, onDone: (code) => { done = code; } });
    await until('the launcher gave up', () => done !== undefined);
    expect(done).toBe(1);
    expect(read(j).filter((l) => l === 'worker1 start')).toHaveLength(FAST.quickExitLimit);
    expect(read(j)).toContain('api exit');
    const text = lines.join('\n');
    // delays double: 10, 20 ms; the third quick exit is the last
    expect(text).toMatch(/child_exited name=worker1 code=3 .*restart_in_ms=10[\s\S]*restart_in_ms=20[\s\S]*child_given_up name=worker1 code=3/);
    expect(text).toMatch(/launcher_stopping signal=SIGTERM reason="worker1 keeps exiting"[\s\S]*launcher_stopped code=1/);
  });

  it('with prefixLines, puts the child\'s name before each of its lines', async () => {
    const j = journal();
    const { log } = logger();
    const printer = script('printer', `console.log('hello gateway_call'); console.error('an error line'); setInterval(() => {}, 1000); process.on('SIGTERM', () => process.exit(0));`);
    const out: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    const ewrite = process.stderr.write.bind(process.stderr);
    process.stdout.write = ((s: string) => { out.push(String(s)); return true; }) as typeof process.stdout.write;
    process.stderr.write = ((s: string) => { out.push(String(s)); return true; }) as typeof process.stderr.write;
    try {
      running = launch({ api: spec('api', printer, j), workers: [], log, policy: FAST, prefixLines: true, onDone: () => undefined });
      await until('both lines', () => out.length >= 2);
      await running.stop('SIGTERM');
    } finally {
      process.stdout.write = write;
      process.stderr.write = ewrite;
    }
    expect(out.sort()).toEqual(['[api] an error line\n', '[api] hello gateway_call\n']);
  });
});
