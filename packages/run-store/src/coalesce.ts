import type { Cluster, Redis } from 'ioredis';

type Writable = NonNullable<Redis['stream']>;

/**
 * Makes the commands a client sends within one turn of the event loop go out in one socket write.
 *
 * A worker at concurrency 50 gets the replies of dozens of commits in one socket read; each reply
 * resumes a job pass, which sends its next commit at once, in the same turn — and ioredis writes
 * every command to the socket on its own, one `write(2)` each (measured: 10 writes per no-op run,
 * ~36 of them in each turn that writes at all). Here the first command of a turn corks the socket
 * and a `process.nextTick` after it uncorks it, so that turn's commands leave in one `writev`: the
 * same bytes, in the same order, sent before the event loop waits again. Nothing else changes —
 * no command waits for another's reply, as with ioredis's `enableAutoPipelining` (which also
 * builds a pipeline object per turn).
 *
 * A command is written only when it is sent, and a corked write a connection loss discards is
 * one Redis never received: ioredis retries or rejects it as any command in flight.
 */
export function coalesceWrites<C extends Redis | Cluster>(client: C): C {
  if ('nodes' in client && typeof client.nodes === 'function') {
    // a Cluster sends through one Redis per node, created as it discovers them
    const cluster = client as Cluster;
    for (const node of cluster.nodes()) coalesceRedis(node);
    cluster.on('+node', (node: Redis) => coalesceRedis(node));
    return client;
  }
  coalesceRedis(client as Redis);
  return client;
}

const COALESCED = Symbol('coalesceWrites');

function coalesceRedis(redis: Redis): void {
  const marked = redis as Redis & { [COALESCED]?: true };
  if (marked[COALESCED]) return;
  marked[COALESCED] = true;
  let corked: Writable | undefined;
  const uncork = () => {
    const s = corked;
    corked = undefined;
    s?.uncork();
  };
  const send = redis.sendCommand;
  redis.sendCommand = function (this: Redis, ...args: Parameters<Redis['sendCommand']>) {
    // the stream of the moment: a reconnect replaces it, and the next turn corks the new one
    const s = this.stream;
    if (corked === undefined && s !== undefined && s.writable) {
      corked = s;
      s.cork();
      process.nextTick(uncork);
    }
    return send.apply(this, args);
  };
}
