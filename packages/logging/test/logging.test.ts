import { describe, expect, it, jest } from '@jest/globals';
import { PassThrough } from 'node:stream';
import { burstLimited, createLogger, redisConnectionErrors } from '../src/index.js';

function capture(format: 'text' | 'json') {
  const stream = new PassThrough();
  const lines: string[] = [];
  stream.on('data', (b: Buffer) => lines.push(...b.toString().split('\n').filter(Boolean)));
  return { log: createLogger({ service: 't', format, stream }), lines };
}

describe('logging', () => {
  it('writes the runbook key=value text line', () => {
    const { log, lines } = capture('text');
    log.info('gateway_ok', { tool: 'job_orchestrator_tool', node: 'start_job', run: 'gr_abc123', elapsed_ms: 145 });
    expect(lines[0]).toMatch(
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \[INFO\] gateway_ok tool=job_orchestrator_tool node=start_job run=gr_abc123 elapsed_ms=145$/,
    );
  });

  it('quotes values with spaces and writes JSON when asked', () => {
    const t = capture('text');
    t.log.warn('run_graph error', { reason: 'two words' });
    expect(t.lines[0]).toContain('[WARN] run_graph error reason="two words"');
    const j = capture('json');
    j.log.info('gateway_call', { tool: 'kb_tool', attempt: 1 });
    expect(JSON.parse(j.lines[0]!)).toMatchObject({ message: 'gateway_call', tool: 'kb_tool', attempt: 1, level: 'info' });
  });

  it('drops lines below the level before formatting them, and follows a level changed later', () => {
    const t = capture('text');
    t.log.level = 'warn';
    const meta = { run: { toJSON: () => { throw new Error('formatted a dropped line'); } } };
    expect(() => t.log.info('node_done', meta)).not.toThrow();
    t.log.warn('run_released', { run: 'gr_1' });
    t.log.level = 'debug';
    t.log.debug('node_done', { run: 'gr_2' });
    expect(t.lines).toHaveLength(2);
    expect(t.lines[0]).toContain('[WARN] run_released run=gr_1');
    expect(t.lines[1]).toContain('[DEBUG] node_done run=gr_2');
  });

  it('does not hand a line below the level to winston at all, and follows the level and a transport\'s own level', () => {
    const t = capture('text');
    const write = jest.spyOn(t.log, 'write');
    t.log.debug('node_done', { run: 'gr_1' });
    t.log.verbose('node_done', { run: 'gr_1' });
    expect(write).not.toHaveBeenCalled();
    t.log.info('run_finished', { run: 'gr_1' });
    expect(write).toHaveBeenCalledTimes(1);
    t.log.level = 'debug';
    t.log.debug('node_done', { run: 'gr_2' });
    expect(write).toHaveBeenCalledTimes(2);
    // a transport that lets more through than the logger: winston writes to it, and so does this
    t.log.level = 'info';
    t.log.transports[0]!.level = 'debug';
    t.log.debug('node_done', { run: 'gr_3' });
    expect(t.lines.map((l) => l.split(' ').slice(1, 4).join(' '))).toEqual([
      '[INFO] run_finished run=gr_1', '[DEBUG] node_done run=gr_2', '[DEBUG] node_done run=gr_3',
    ]);
  });
});

describe('burstLimited', () => {
  it('writes the first line of a burst at once, then one per interval saying how many it folded', () => {
    let t = 0;
    const written: Array<Record<string, unknown>> = [];
    const say = burstLimited((f: { error: string }) => written.push(f), 5_000, () => t);
    for (let i = 0; i < 65; i++) say({ error: `ECONNREFUSED ${i}` });
    expect(written).toEqual([{ error: 'ECONNREFUSED 0' }]);
    t = 4_999;
    say({ error: 'late' });
    expect(written).toHaveLength(1);
    t = 5_000;
    say({ error: 'ECONNREFUSED again' });
    expect(written).toEqual([{ error: 'ECONNREFUSED 0' }, { error: 'ECONNREFUSED again', repeated: 65 }]);
    // a later error after a quiet spell is written at once, with nothing folded
    t = 60_000;
    say({ error: 'READONLY' });
    expect(written.at(-1)).toEqual({ error: 'READONLY' });
  });

  it('redisConnectionErrors writes the runbook\'s line, the first of a burst at once, the rest folded', () => {
    const t = capture('text');
    const onError = redisConnectionErrors(t.log, 60_000);
    for (let i = 0; i < 10; i++) onError(new Error('connect ECONNREFUSED 127.0.0.1:6379'));
    expect(t.lines).toHaveLength(1);
    expect(t.lines[0]).toMatch(/\[ERROR\] Redis connection error error="connect ECONNREFUSED 127.0.0.1:6379"$/);
  });
});
