import { describe, expect, it } from '@jest/globals';
import { serializeRecord } from '../src/record.js';
import { makeRecord } from './helpers.js';

const HEAD = /^\{"run_id":"gr_\w+","status":"\w+","lease":(null|"[^"]*"),"graph":"\w+",/;

describe('serializeRecord', () => {
  it('puts run_id, status, lease and graph first and keeps every field', () => {
    const rec = makeRecord({ lease: 'tok' }); // helpers' order: graph before status, lease last
    const s = serializeRecord(rec);
    expect(s).toMatch(HEAD);
    expect(JSON.parse(s)).toEqual(rec);
  });

  it('writes a record already in that order as it is, and a missing lease as null', () => {
    const { run_id, status, lease: _l, graph, ...rest } = makeRecord();
    const ordered = { run_id, status, lease: 'tok-1', graph, ...rest };
    expect(serializeRecord(ordered)).toBe(JSON.stringify(ordered));
    const noLease = { run_id, status, graph, ...rest };
    const s = serializeRecord(noLease);
    expect(s).toMatch(HEAD);
    expect(JSON.parse(s)).toEqual({ ...noLease, lease: null });
  });
});
