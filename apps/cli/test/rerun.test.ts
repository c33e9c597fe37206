import { describe, expect, it } from '@jest/globals';
import type { RunRecord } from '@sup/contracts';
import { cliHarness } from './harness.js';

const h = cliHarness();
const { cli, created, finish, open } = h;

const META = '{"ticket":"REL-7","by":"ops"}';
const created2 = (out: string) => /^created (gr_[a-z0-9]+) \(release_check, queued\)$/m.exec(out)?.[1];

describe('supervisor runs rerun', () => {
  it('starts a new run of the same graph, agent, input and metadata; says the webhook was not copied', async () => {
    const old = await created(['--metadata', META, '--webhook', 'https://hooks.example.com/services/T0/SECRET']);
    await finish(old, 'failed');
    const res = await cli(['runs', 'rerun', old]);
    expect(res.code).toBe(0);
    const id = created2(res.out);
    expect(id).toBeDefined();
    expect(id).not.toBe(old);
    expect(res.err).toBe(`note: ${old} had a webhook (https://hooks.example.com/…), which the API shows by origin only: ${id} has none (give it with --webhook URL)`);
    const [a, b] = [(await open.store.get(old))!, (await open.store.get(id!))!];
    expect(b).toMatchObject({ graph: a.graph, agent_id: a.agent_id, input: a.input, metadata: { ticket: 'REL-7', by: 'ops' }, status: 'queued' });
    expect(b.webhook ?? null).toBeNull();
  });

  it('--webhook gives the new run one (and no note); without a webhook on the old run there is nothing to say', async () => {
    const old = await created(['--webhook', 'https://hooks.example.com/a']);
    const res = await cli(['runs', 'rerun', old, '--webhook', 'https://hooks.example.com/b', '--json']);
    expect(res.err).toBe('');
    expect((await open.store.get((JSON.parse(res.out) as RunRecord).run_id))!.webhook).toBe('https://hooks.example.com/b');
    const plain = await cli(['runs', 'rerun', await created()]);
    expect([plain.code, plain.err]).toEqual([0, '']);
  });

  it('--idempotency-key: the second rerun answers the first one\'s run', async () => {
    const old = await created();
    const first = await cli(['runs', 'rerun', old, '--idempotency-key', `rerun-${old}`]);
    const again = await cli(['runs', 'rerun', old, '--idempotency-key', `rerun-${old}`]);
    expect(again.out).toBe(`existing run (same Idempotency-Key) ${created2(first.out)} (release_check, queued)`);
  });

  it('--wait follows the new run: exit 3 when it fails again', async () => {
    const old = await created();
    let finished: Promise<void> | undefined;
    const res = await cli(['runs', 'rerun', old, '--wait', '--interval', '0.05'], {
      onOut: (line) => {
        const id = /^created (gr_[a-z0-9]+)/.exec(line)?.[1];
        if (id && !finished) finished = finish(id, 'failed');
      },
    });
    await finished;
    expect(res.code).toBe(3);
    expect(res.out).toMatch(/^error\s+job_failed: checks failed \(node poll_job\)$/m);
  });

  it('an unknown run is the API\'s 404, exit 1', async () => {
    const res = await cli(['runs', 'rerun', 'gr_nosuchrun77']);
    expect(res).toEqual({ code: 1, out: '', err: 'error: no run gr_nosuchrun77 (run_not_found, HTTP 404)' });
  });
});
