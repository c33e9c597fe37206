/**
 * Redis answering but not taking writes now: out of memory (maxmemory reached under noeviction), a
 * disk it cannot persist to (MISCONF: stop-writes-on-bgsave-error, a failing AOF), a master without
 * enough replicas (min-replicas-to-write), a replica mid-failover, a dataset still loading, a
 * script running too long (BUSY), a cluster slot moving. Each passes once the operator or Redis
 * fixes it. Inside a script the reply is `ERR Error running script ...: NOREPLICAS ...`, hence no
 * anchor.
 */
const NOT_NOW = /\b(OOM|MISCONF|NOREPLICAS|READONLY|LOADING|BUSY|MASTERDOWN|CLUSTERDOWN|TRYAGAIN)\b/;
/** ioredis' errors for a connection that is down or gave up on a command. */
const CONNECTION = /^(Connection is closed|Stream isn't writeable)|ECONNREFUSED|ECONNRESET|ETIMEDOUT/;
/**
 * ioredis Cluster giving up on a command: the master of the slot down, slots moving, no node
 * reachable. ("Too many Cluster redirections. Last error: Error: Connection is closed." wraps the
 * cause in a plain Error, so neither test above sees it.)
 */
const CLUSTER = /^(Too many Cluster redirections|Cluster isn't ready|None of startup nodes is available|Failed to refresh slots cache)/;

/**
 * True for errors that say "Redis cannot take this now" rather than "this request is wrong": the
 * API answers them 503 with Retry-After, a worker retries the run later without spending a job
 * attempt. A MULTI whose command Redis refused fails as EXECABORT, with the refusal in
 * `previousErrors`.
 */
export function isRedisUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (err.name === 'MaxRetriesPerRequestError' || CONNECTION.test(err.message) || CLUSTER.test(err.message)) return true;
  if (err.name !== 'ReplyError') return false;
  if (err.message.startsWith('EXECABORT')) return ((err as { previousErrors?: unknown[] }).previousErrors ?? []).some(isRedisUnavailable);
  return NOT_NOW.test(err.message);
}

/** `out_of_memory` for an OOM refusal (it needs an operator, not a retry), else `unavailable`. */
export function unavailableReason(err: Error): 'out_of_memory' | 'unavailable' {
  const refusal = err.message.startsWith('EXECABORT') ? ((err as { previousErrors?: Error[] }).previousErrors ?? [])[0]?.message ?? '' : err.message;
  return /\bOOM\b/.test(refusal) ? 'out_of_memory' : 'unavailable';
}
