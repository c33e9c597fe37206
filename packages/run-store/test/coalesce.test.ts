import { afterAll, describe, expect, it } from '@jest/globals';
import { Cluster, type Redis } from 'ioredis';
import { coalesceWrites } from '../src/coalesce.js';
import { createRedis } from '../src/redis.js';
import { REDIS_URL, uniquePrefix } from './helpers.js';

const opened: Redis[] = [];
afterAll(async () => {
  await Promise.all(opened.map((r) => r.quit()));
});

/** A ready connection, and a count of the writes that reach its socket (one per `_write`, one per `_writev`). */
async function counted(coalesce: boolean) {
  const r = createRedis(REDIS_URL, { name: 'coalesce-test', coalesceWrites: coalesce });
  opened.push(r);
  await r.ping();
  const s = r.stream as unknown as { _write: (...a: unknown[]) => void; _writev?: (...a: unknown[]) => void };
  const n = { writes: 0 };
  const w = s._write.bind(s);
  s._write = (...a) => { n.writes++; w(...a); };
  const wv = s._writev?.bind(s);
  if (wv) s._writev = (...a) => { n.writes++; wv(...a); };
  return { r, n };
}

describe('coalesceWrites', () => {
  // read-only: GETs of keys under a fresh prefix, which do not exist
  const key = (i: number) => `${uniquePrefix()}k${i}`;

  it('sends the commands of one turn of the event loop in one socket write, in order, each with its own reply', async () => {
    const { r, n } = await counted(true);
    const replies = await Promise.all([r.echo('a'), r.get(key(1)), r.echo('b'), r.get(key(2)), r.echo('c')]);
    expect(replies).toEqual(['a', null, 'b', null, 'c']);
    expect(n.writes).toBe(1);
    // the next turn writes again: nothing waits for a later command
    expect(await r.echo('d')).toBe('d');
    expect(n.writes).toBe(2);
  });

  it('without it, every command is a write of its own', async () => {
    const { r, n } = await counted(false);
    await Promise.all([r.echo('a'), r.get(key(1)), r.echo('b')]);
    expect(n.writes).toBe(3);
  });

  it('on a Cluster, coalesces each node connection as the Cluster adds it', async () => {
    const cluster = new Cluster([{ host: '127.0.0.1', port: 1 }], { lazyConnect: true });
    expect(coalesceWrites(cluster)).toBe(cluster);
    // a node connection as the Cluster's pool makes one (here: the test Redis)
    const { r, n } = await counted(false);
    cluster.emit('+node', r);
    await Promise.all([r.echo('a'), r.echo('b'), r.echo('c')]);
    expect(n.writes).toBe(1);
    cluster.disconnect();
  });

  it('corks the current stream after a reconnect', async () => {
    const { r } = await counted(true);
    const before = r.stream;
    r.disconnect(true);
    await new Promise<void>((resolve) => r.once('ready', () => resolve()));
    expect(r.stream).not.toBe(before);
    const s = r.stream as unknown as { _writev?: (...a: unknown[]) => void };
    let writev = 0;
    const wv = s._writev!.bind(s);
    s._writev = (...a) => { writev++; wv(...a); };
    expect(await Promise.all([r.echo('x'), r.echo('y')])).toEqual(['x', 'y']);
    expect(writev).toBe(1);
  });
});
