import { describe, expect, it } from '@jest/globals';
import { AppError } from '@sup/contracts';
import { graphs } from '@sup/graphs';
import { checkCron, fireTimes } from '../src/cron.js';
import { loadScheduleConfig, ScheduleConfigError } from '../src/config.js';
import { validateSchedule } from '../src/schema.js';

const ok = { graph: 'release_check', cron: '0 2 * * *', agent_id: 'sofiia', input: { service: 'billing', version: '1.4.2' } };

function rejection(raw: unknown): AppError {
  try {
    validateSchedule(raw, graphs, 'api');
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    return err as AppError;
  }
  throw new Error('expected the schedule to be rejected');
}

describe('validateSchedule', () => {
  it('accepts a release check and defaults overlap to skip for it, allow for other graphs', () => {
    const s = validateSchedule({ ...ok, tz: 'Europe/Kyiv' }, graphs, 'api');
    expect(s).toMatchObject({ graph: 'release_check', cron: '0 2 * * *', tz: 'Europe/Kyiv', overlap: 'skip', enabled: true, source: 'api' });
    expect(s.id).toMatch(/^sch_[0-9a-f]{16}$/);
    const t = validateSchedule({ graph: 'incident_triage', every_sec: 60, agent_id: 'sofiia', input: { service: 'billing' } }, graphs, 'config');
    expect(t).toMatchObject({ overlap: 'allow', every_sec: 60, source: 'config' });
    expect(validateSchedule({ ...ok, overlap: 'allow' }, graphs, 'api').overlap).toBe('allow');
  });

  it.each([
    ['61 * * * *', /cron "61 \* \* \* \*" is invalid: .*61.*0-59/],
    ['not a cron', /cron "not a cron" is invalid/],
    ['* * *', /cron "\* \* \*" is invalid: expected 5 fields .* got 3/],
    ['0 0 30 2 *', /cron "0 0 30 2 \*" is invalid/],
    ['@sometimes', /unknown macro @sometimes/],
    // cron-parser's H draws a new random value each time BullMQ evaluates the pattern
    ['H * * * *', /cron "H \* \* \* \*" is invalid: the minute field uses H, which is not supported/],
    ['0 H(0-5) * * *', /the hour field uses H/],
    ['H/10 * * * * *', /the second field uses H/],
    ['0 0 * * H', /the day-of-week field uses H/],
  ])('rejects the bad cron %j with a 400 naming it', (cron, message) => {
    const e = rejection({ ...ok, cron });
    expect(e.status).toBe(400);
    expect(e.code).toBe('invalid_cron');
    expect(e.message).toMatch(message);
  });

  it('rejects an unknown graph, naming it and listing the known ones', () => {
    const e = rejection({ ...ok, graph: 'release_chek' });
    expect([e.status, e.code]).toEqual([400, 'unknown_graph']);
    expect(e.message).toContain('"release_chek"');
    expect(e.details).toEqual({ graphs: expect.arrayContaining(['release_check', 'incident_triage']) });
  });

  it('rejects input failing the graph schema, naming the field', () => {
    const e = rejection({ ...ok, input: { service: 'billing' } });
    expect([e.status, e.code]).toEqual([400, 'validation_failed']);
    expect(e.message).toMatch(/input for graph release_check is invalid: version/);
    expect(e.details).toEqual([expect.objectContaining({ path: 'input.version' })]);
  });

  it('accepts a macro in any case and stores it lowercased, the only spelling the parser knows', () => {
    expect(validateSchedule({ ...ok, cron: ' @Hourly ' }, graphs, 'api').cron).toBe('@hourly');
    expect(validateSchedule({ ...ok, cron: '@DAILY', tz: 'Europe/Kyiv' }, graphs, 'api').cron).toBe('@daily');
    expect(rejection({ ...ok, cron: '@Sometimes' }).message).toMatch(/unknown macro @sometimes \(known: @yearly/);
  });

  it.each([
    ['neither cron nor every_sec', { ...ok, cron: undefined }, /exactly one of cron or every_sec/],
    ['both cron and every_sec', { ...ok, every_sec: 10 }, /exactly one of cron or every_sec/],
    ['an unknown time zone', { ...ok, tz: 'Mars/Olympus' }, /unknown time zone "Mars\/Olympus"/],
    ['tz with every_sec', { ...ok, cron: undefined, every_sec: 5, tz: 'UTC' }, /tz applies to cron schedules only/],
    ['a fractional every_sec', { ...ok, cron: undefined, every_sec: 1.5 }, /is invalid: every_sec: /],
    ['an unknown field', { ...ok, crontab: '* * * * *' }, /crontab/],
    ['a bad id', { ...ok, id: 'has space' }, /is invalid: id: letters/],
    ['a bad overlap', { ...ok, overlap: 'buffer' }, /is invalid: overlap: /],
  ])('rejects %s', (_name, raw, message) => {
    const e = rejection(raw);
    expect(e.status).toBe(400);
    expect(e.message).toMatch(message);
  });
});

describe('cron helpers', () => {
  it('accepts 6-field crons and macros, and computes fire times in the time zone', () => {
    expect(checkCron('*/2 * * * * *')).toBeNull();
    expect(checkCron('@hourly')).toBeNull();
    // day names are not H fields, though THU contains one
    expect(checkCron('0 9 * * THU')).toBeNull();
    expect(checkCron('0 9 * * thu,SAT')).toBeNull();
    const from = Date.parse('2026-03-01T10:30:00Z');
    expect(fireTimes({ cron: '0 2 * * *', tz: 'Europe/Kyiv' }, from, 2).map((t) => new Date(t).toISOString()))
      .toEqual(['2026-03-02T00:00:00.000Z', '2026-03-03T00:00:00.000Z']);
    expect(fireTimes({ every_sec: 60 }, from, 3)).toEqual([from, from + 60_000, from + 120_000]);
  });
});

describe('loadScheduleConfig', () => {
  const yaml = `
schedules:
  - id: nightly
    graph: release_check
    cron: "0 2 * * *"
    agent_id: sofiia
    input: {service: billing, version: "1.4.2"}
  - id: hourly
    graph: release_check
    every_sec: 3600
    agent_id: sofiia
    input: {service: payments, version: "2.0.0"}
    overlap: allow
`;
  const read = (files: Record<string, string>) => (p: string) => {
    if (!(p in files)) throw Object.assign(new Error('nope'), { code: 'ENOENT' });
    return files[p]!;
  };

  it('is null when neither variable is set, so config schedules are left alone', () => {
    expect(loadScheduleConfig({ SCHEDULES_FILE: '', SCHEDULES: '' }, graphs)).toBeNull();
  });

  it('takes a variable holding only whitespace as unset, not as a list of no schedules (which removes them all)', () => {
    expect(loadScheduleConfig({ SCHEDULES_FILE: '', SCHEDULES: ' ' }, graphs)).toBeNull();
    expect(loadScheduleConfig({ SCHEDULES_FILE: ' \t', SCHEDULES: '\n' }, graphs)).toBeNull();
    expect(loadScheduleConfig({ SCHEDULES_FILE: 's.yaml', SCHEDULES: '  ' }, graphs, read({ 's.yaml': yaml }))!.map((s) => s.id)).toEqual(['nightly', 'hourly']);
  });

  it('removes every config schedule only when told so explicitly: [] or schedules: []', () => {
    expect(loadScheduleConfig({ SCHEDULES_FILE: '', SCHEDULES: '[]' }, graphs)).toEqual([]);
    expect(loadScheduleConfig({ SCHEDULES_FILE: 'e.yaml', SCHEDULES: '' }, graphs, read({ 'e.yaml': '# none any more\nschedules: []\n' }))).toEqual([]);
  });

  it.each([
    ['an empty file', ''],
    ['a file of blank lines', '  \n\n\t\n'],
    ['a file of comments', '# schedules:\n#   - id: nightly\n'],
    ['a file whose schedules: lists nothing', 'schedules:\n#  - id: nightly\n'],
  ])('stops start-up with one line for %s (it would remove every config schedule)', (_name, text) => {
    const load = () => loadScheduleConfig({ SCHEDULES_FILE: 'e.yaml', SCHEDULES: '' }, graphs, read({ 'e.yaml': text }));
    expect(load).toThrow(ScheduleConfigError);
    expect(load).toThrow(/^invalid configuration: SCHEDULES_FILE="e.yaml": no schedules in it \(empty, blank or only comments\); to remove every config schedule write schedules: \[\] \(or \[\]\)$/);
  });

  it('reads a YAML file and inline JSON, every schedule marked source=config', () => {
    const out = loadScheduleConfig({
      SCHEDULES_FILE: 's.yaml',
      SCHEDULES: JSON.stringify([{ id: 'env-one', graph: 'incident_triage', every_sec: 30, agent_id: 'sofiia', input: { service: 'x' } }]),
    }, graphs, read({ 's.yaml': yaml }))!;
    expect(out.map((s) => [s.id, s.source, s.overlap])).toEqual([['nightly', 'config', 'skip'], ['hourly', 'config', 'allow'], ['env-one', 'config', 'allow']]);
    expect(loadScheduleConfig({ SCHEDULES_FILE: 'e.yaml', SCHEDULES: '' }, graphs, read({ 'e.yaml': 'schedules: []\n' }))).toEqual([]);
  });

  it.each([
    ['a missing file', { SCHEDULES_FILE: 'gone.yaml', SCHEDULES: '' }, /^invalid configuration: SCHEDULES_FILE="gone.yaml": cannot read the file: ENOENT/],
    ['bad YAML', { SCHEDULES_FILE: '', SCHEDULES: '[{' }, /^invalid configuration: SCHEDULES="\[\{": not valid YAML or JSON/],
    ['a schedule without id', { SCHEDULES_FILE: '', SCHEDULES: '[{"graph":"release_check"}]' }, /schedules\[0\]: id is required/],
    ['a bad cron', { SCHEDULES_FILE: 's.yaml', SCHEDULES: '' }, /SCHEDULES_FILE="s.yaml": schedules\[1\] \(hourly\): cron "99 \* \* \* \*" is invalid/],
    ['a duplicate id', { SCHEDULES_FILE: '', SCHEDULES: JSON.stringify([{ ...ok, id: 'a' }, { ...ok, id: 'a' }]) }, /schedule id a is declared twice/],
    ['not a list', { SCHEDULES_FILE: '', SCHEDULES: '{"id": "x"}' }, /expected a list of schedules/],
  ])('stops start-up with one line for %s', (_name, env, message) => {
    const files = { 's.yaml': yaml.replace('every_sec: 3600', 'cron: "99 * * * *"') };
    expect(() => loadScheduleConfig(env, graphs, read(files))).toThrow(ScheduleConfigError);
    expect(() => loadScheduleConfig(env, graphs, read(files))).toThrow(message);
  });
});
