import { execFileSync, spawn } from 'node:child_process';
import { describe, expect, it } from '@jest/globals';
import { ROOT } from '../src/procs.js';

/**
 * Every chaos script (chaos/*.ts) in its --short mode, as a child process: each starts its own
 * throwaway redis-server and its own processes, prints one summary line and exits non-zero when
 * something was lost or a check failed. The full versions run by hand (docs/reliability.md).
 */
const SCRIPTS = ['kill9', 'gateway-faults', 'rolling-restart', 'bad-input', 'redis-restart', 'redis-oom', 'lost-jobs'];
const SUMMARY = /^runs=\d+ succeeded=\d+ lost=0 duplicated_nodes=\S+ .*result=ok$/m;

function hasRedisServer(): boolean {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function runScript(name: string): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', `chaos/${name}.ts`, '--short'], {
      cwd: ROOT, env: { PATH: process.env.PATH ?? '' }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    // the scripts bound themselves (60–80 s); this is the last resort
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

describe('chaos scripts, short mode', () => {
  it('can start a throwaway redis-server', () => {
    if (!hasRedisServer()) throw new Error('the chaos scripts start their own redis-server: install it (apt-get install -y redis-server)');
  });

  for (const name of SCRIPTS) {
    it(`chaos/${name}.ts --short loses nothing`, async () => {
      const { code, out } = await runScript(name);
      if (code !== 0 || !SUMMARY.test(out)) throw new Error(`chaos/${name}.ts --short exited ${code}; output:\n${out.slice(-4000)}`);
      expect(out).toMatch(SUMMARY);
    }, 100_000);
  }
});
