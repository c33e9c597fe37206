import { describe, expect, it } from '@jest/globals';
import { ReplyError } from 'ioredis';
import { isRedisUnavailable, unavailableReason } from '../src/unavailable.js';

const reply = (message: string) => new ReplyError(message);

describe('isRedisUnavailable', () => {
  it.each([
    ['a closed connection', new Error('Connection is closed.')],
    ['a refused connection', new Error('connect ECONNREFUSED 127.0.0.1:6379')],
    ['out of memory', reply("OOM command not allowed when used memory > 'maxmemory'.")],
    ['a read-only replica', reply("READONLY You can't write against a read only replica.")],
    ['a Cluster whose slot master is down (ioredis wraps the cause)', new Error('Too many Cluster redirections. Last error: Error: Connection is closed.')],
    ['a Cluster that is down', new Error('Too many Cluster redirections. Last error: ReplyError: CLUSTERDOWN The cluster is down')],
    ['a Cluster not ready', new Error("Cluster isn't ready and enableOfflineQueue options is false")],
    ['no Cluster node reachable', new Error('None of startup nodes is available')],
  ])('is true for %s', (_name, err) => {
    expect(isRedisUnavailable(err)).toBe(true);
  });

  it.each([
    ['a script bug', reply('ERR Error running script: attempt to index a nil value')],
    ['a wrong type', reply('WRONGTYPE Operation against a key holding the wrong kind of value')],
    ['any other error', new Error('boom')],
    ['not an error', 'Connection is closed.'],
  ])('is false for %s', (_name, err) => {
    expect(isRedisUnavailable(err)).toBe(false);
  });

  it('names out of memory apart, also inside a Cluster error', () => {
    expect(unavailableReason(new Error('Too many Cluster redirections. Last error: ReplyError: OOM command not allowed'))).toBe('out_of_memory');
    expect(unavailableReason(new Error('Too many Cluster redirections. Last error: Error: Connection is closed.'))).toBe('unavailable');
  });
});
