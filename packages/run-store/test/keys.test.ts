import { describe, expect, it } from '@jest/globals';
import { createKeys } from '../src/keys.js';

describe('createKeys', () => {
  it('uses the runbook names with an empty prefix', () => {
    const k = createKeys('');
    expect(k.run('gr_abc123')).toBe('run:gr_abc123');
    expect(k.events('gr_abc123')).toBe('run:gr_abc123:events');
    expect(k.index).toBe('runs:index');
    expect(k.cancelChannel).toBe('run-cancel');
  });

  it('hashes the idempotency key to 32 hex characters, per agent', () => {
    const k = createKeys('');
    const a = k.idem('sofiia', 'my key: anything {at} all');
    expect(a).toMatch(/^idem:sofiia:[0-9a-f]{32}$/);
    expect(k.idem('sofiia', 'my key: anything {at} all')).toBe(a);
    expect(k.idem('other', 'my key: anything {at} all')).not.toBe(a);
    expect(k.idem('sofiia', 'another')).not.toBe(a);
  });

  it('puts every key under a hash-tagged prefix in the same Cluster slot', () => {
    const k = createKeys('{sup}:');
    const all = [k.run('gr_x'), k.events('gr_x'), k.idem('sofiia', '{evil}'), k.index, k.live, k.stats];
    expect(all).toEqual(['{sup}:run:gr_x', '{sup}:run:gr_x:events', expect.stringMatching(/^\{sup\}:idem:sofiia:/), '{sup}:runs:index', '{sup}:runs:live', '{sup}:stats:runs']);
    // Cluster hashes only the first {...} section, which is the prefix in every key
    for (const key of all) expect(/\{([^}]*)\}/.exec(key)?.[1]).toBe('sup');
  });
});
