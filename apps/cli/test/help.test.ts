import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../src/cli.js';
import { COMMANDS } from '../src/commands.js';

async function cli(argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const fetches: string[] = [];
  const code = await run(argv, { env: {}, out: (s) => void out.push(s), err: (s) => void err.push(s), fetch: (u) => (fetches.push(String(u)), Promise.reject(new Error('no request expected'))) });
  expect(fetches).toEqual([]);
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('--version and --help', () => {
  it('--version prints the version of @sup/cli', async () => {
    const { version } = JSON.parse(readFileSync(join(import.meta.dirname, '../package.json'), 'utf8')) as { version: string };
    expect(await cli(['--version'])).toEqual({ code: 0, out: version, err: '' });
    expect(await cli(['runs', 'get', '--version'])).toEqual({ code: 0, out: version, err: '' });
  });

  it.each(Object.keys(COMMANDS))('supervisor %s --help prints that command\'s usage, exit 0', async (name) => {
    const res = await cli([...name.split(' '), '--help']);
    expect(res.code).toBe(0);
    expect(res.out.split('\n')[0]).toMatch(new RegExp(`^usage: supervisor ${name}\\b`));
    // every option the command takes is explained
    for (const option of COMMANDS[name]!.options) expect(res.out).toContain(`--${option} `);
    expect(res.out).toContain('--url URL');
    // -h too, and with the command's arguments already given
    expect((await cli([...name.split(' '), ...COMMANDS[name]!.args.map(() => 'x'), '-h'])).out).toBe(res.out);
  });

  it('--help alone, or after "runs", prints the whole usage; after an unknown command it is a usage error', async () => {
    for (const argv of [['--help'], ['runs', '--help'], ['-h']]) {
      const res = await cli(argv);
      expect(res.code).toBe(0);
      expect(res.out).toMatch(/^usage: supervisor <command>/);
      for (const name of Object.keys(COMMANDS)) expect(res.out).toContain(`  ${name}`);
    }
    expect((await cli(['runs', 'explode', '--help'])).code).toBe(2);
  });
});
