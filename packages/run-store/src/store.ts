import { isTerminal, RUN_STATUSES, type RunEvent, type RunRecord, type RunStatus } from '@sup/contracts';
import { isWrongType, StoreError } from './errors.js';
import { createKeys, idemDigest, type Keys } from './keys.js';
import { dropExpired, listRuns, pairs, type ListQuery, type RunList } from './list.js';
import { parseRecord, serializeRecord } from './record.js';
import { commitResult, createResult, removeResult, type CommitResult } from './results.js';
import { defineScripts, type RedisClient, type Scripts } from './scripts.js';

export interface RunStoreOptions {
  redis: RedisClient;
  /** '' on standalone Redis; a hash tag such as '{sup}:' for Cluster. */
  prefix: string;
  /** RUN_TTL_SEC: run and events expire this long after their last write. */
  ttlSec: number;
  /** A `capped` commit of a larger record is refused (`record_too_large`) and writes nothing; 0 or absent = no cap. */
  maxRecordBytes?: number;
}

export type CreateResult = { created: true; record: RunRecord } | { created: false; record: RunRecord };

/** Listing-index entries are kept this many TTLs from creation (create.lua has the same 2). */
export const INDEX_KEEP_TTLS = 2;

/** A parked record lives at least this long past its wake-up (see RunStore.ttlOf). */
export const PARK_TTL_MARGIN_SEC = 60;
/** A cancelled record lives at least this long: its compensation retries for about a minute and more. */
export const CANCELLED_MIN_TTL_SEC = 600;
/**
 * A finished record with a webhook lives at least this long: every delivery attempt reads the
 * payload from it, and a failed one commits it again (apps/worker/src/webhooks.ts), so it is still
 * there at the next attempt (at most 256 s later with the default backoff) whatever RUN_TTL_SEC is.
 */
export const WEBHOOK_MIN_TTL_SEC = 600;

export interface CommitRequest {
  /** The write happens only while the stored status is one of these. */
  ifStatus: readonly RunStatus[];
  /** When given, the stored `lease` must equal it (the caller still owns the run). */
  ifLease?: string;
  /**
   * When given (`read().raw`), the stored JSON must still be exactly this: for a writer that does not
   * own the run and builds the new record from the one it read, so it cannot overwrite a newer one.
   */
  ifRaw?: string;
  /** The complete new record. */
  record: RunRecord;
  events?: readonly RunEvent[];
  /**
   * Refuse the record if it is over RunStoreOptions.maxRecordBytes: for writes that add what a node
   * returned. Writes that end or hand back a run are never refused for their size.
   */
  capped?: boolean;
  /**
   * With `capped`: bytes the record will grow by at its next write, counted against the cap too —
   * a claim's first snapshot holds a second copy of the input.
   */
  reserveBytes?: number;
}

export interface RunStats {
  created: Array<{ graph: string; count: number }>;
  finished: Array<{ graph: string; status: string; count: number }>;
}

/** Bytes `status` reads: `{"run_id":"<at most 43 characters>","status":"cancelling"` fits with room to spare. */
const STATUS_HEAD_BYTES = 160;
// the head every record this store wrote begins with (serializeRecord; commit.lua reads it the same way)
const STATUS_HEAD = /^\{"run_id":"[^"\\]*","status":"([a-z]+)"/;

const U64_MAX = 2n ** 64n - 1n;
const LAST_STREAM_ID = `${U64_MAX}-${U64_MAX}`;

/** A Redis stream id (`<ms>-<seq>`, or `<ms>`) whose parts fit in 64 bits, as Redis requires. */
export function isStreamId(id: string): boolean {
  const m = /^(\d{1,20})(?:-(\d{1,20}))?$/.exec(id);
  return m !== null && BigInt(m[1]!) <= U64_MAX && (m[2] === undefined || BigInt(m[2]) <= U64_MAX);
}

/** A page of a run's events, and how far the read got in the stream (unreadable entries included). */
export interface EventPage {
  events: RunEvent[];
  /** Stream entries read: fewer than the limit means the end of the stream was reached. */
  read: number;
  /** Id of the last entry read, readable or not: where the next page starts. */
  last: string | undefined;
}

const EVENTS_WRONG_TYPE = 'its events key holds another Redis type, not a stream';

/** A rejection handler: WRONGTYPE (a key an operator made another type) is the run's `corrupt_record`. */
function wrongType(runId: string, what: string) {
  return (err: unknown): never => {
    if (isWrongType(err)) throw new StoreError('corrupt_record', `run ${runId}: ${what}`);
    throw err;
  };
}

// the stream id is the event's id; storing it inside the entry too would only let them disagree.
// An event made to be appended has none; JSON leaves out a key whose value is undefined, so the
// one that has gets no copy either (a rest copy per event showed in the worker's profile)
function encodeEvent(e: RunEvent): string {
  return JSON.stringify(e.id === undefined ? e : { ...e, id: undefined });
}

function decodeEvent(id: string, fields: string[]): RunEvent | null {
  const i = fields.indexOf('e');
  if (i < 0 || i % 2 !== 0) return null;
  try {
    return { ...(JSON.parse(fields[i + 1]!) as RunEvent), id };
  } catch {
    return null;
  }
}

/** Run records (`run:{id}`) and their event streams (`run:{id}:events`) in Redis. */
export class RunStore {
  readonly keys: Keys;
  private readonly redis: RedisClient;
  private readonly scripts: Scripts;
  private readonly ttlSec: number;
  private readonly maxRecordBytes: number;

  constructor(opts: RunStoreOptions) {
    if (!Number.isInteger(opts.ttlSec) || opts.ttlSec <= 0) {
      throw new StoreError('invalid_argument', `ttlSec must be a positive integer, got ${opts.ttlSec}`);
    }
    this.redis = opts.redis;
    this.keys = createKeys(opts.prefix);
    this.ttlSec = opts.ttlSec;
    this.maxRecordBytes = opts.maxRecordBytes ?? 0;
    this.scripts = defineScripts(opts.redis);
  }

  /**
   * Stores a new run. With an idempotency key that already names a live run of the same agent,
   * nothing is written and that run is returned instead. Throws `run_exists` if the id is taken.
   */
  async create(record: RunRecord, opts: { events: readonly RunEvent[]; idempotencyKey?: string }): Promise<CreateResult> {
    // the record names its key, so that every commit keeps the key as long as the record (commit.lua)
    if (opts.idempotencyKey !== undefined) record = { ...record, idem: idemDigest(opts.idempotencyKey) };
    const id = record.run_id;
    const k = this.keys;
    const indexes = [k.indexBy('graph', record.graph), k.indexBy('agent', record.agent_id)];
    if (record.parent_run_id) indexes.push(k.indexBy('parent', record.parent_run_id));
    if (record.trigger?.schedule_id) indexes.push(k.indexBy('schedule', record.trigger.schedule_id));
    const keys = [k.run(id), k.events(id), k.index, k.stats, k.live, ...indexes];
    if (opts.idempotencyKey !== undefined) keys.push(k.idem(record.agent_id, opts.idempotencyKey));
    const createdMs = Date.parse(record.created_at);
    const reply = await this.scripts.run('create', keys, [
      serializeRecord(record), this.ttlSec, Number.isFinite(createdMs) ? createdMs : Date.now(), id, indexes.length,
      ...opts.events.map(encodeEvent),
    ]);
    const r = createResult(reply, id);
    return r.created ? { created: true, record } : { created: false, record: parseRecord(r.json, r.runId) };
  }

  /** The record, with defaults filled in for fields a hand-written one lacks; null if absent. */
  async get(runId: string): Promise<RunRecord | null> {
    return (await this.read(runId))?.record ?? null;
  }

  /** `get`, plus the stored JSON as it was read (for `CommitRequest.ifRaw`). */
  async read(runId: string): Promise<{ record: RunRecord; raw: string } | null> {
    // an operator's HSET (or any other type) on the key: as broken as a value that is not JSON
    const raw = await this.redis.get(this.keys.run(runId)).catch(wrongType(runId, 'the key holds another Redis type, not the JSON string of a record'));
    return raw === null ? null : { record: parseRecord(raw, runId), raw };
  }

  /**
   * The run's status alone, null if the run is gone: for a check repeated often (the SSE heartbeat).
   * Reads only the head of the stored JSON (GETRANGE), where serializeRecord puts the status — a
   * record's snapshot and history can be megabytes. Anything else (a hand-SET record with another
   * key order) is read and parsed in full, as `get` does.
   */
  async status(runId: string): Promise<RunStatus | null> {
    const head = await this.redis.getrange(this.keys.run(runId), 0, STATUS_HEAD_BYTES - 1)
      .catch(wrongType(runId, 'the key holds another Redis type, not the JSON string of a record'));
    const found = STATUS_HEAD.exec(head)?.[1];
    if (found !== undefined && (RUN_STATUSES as readonly string[]).includes(found)) return found as RunStatus;
    // '' is also what a missing key reads as
    return (await this.get(runId))?.status ?? null;
  }

  /** Compare-and-set: writes `record` (+ events) only if status and lease are as expected. */
  async commit(runId: string, req: CommitRequest): Promise<CommitResult> {
    if (req.ifStatus.length === 0) throw new StoreError('invalid_argument', 'commit needs at least one allowed status');
    if (req.record.run_id !== runId) {
      throw new StoreError('invalid_argument', `record of run ${req.record.run_id} cannot be committed to run ${runId}`);
    }
    // the stats hash and the live set only go along when the run may be finishing: the script then
    // counts it once and drops it from the live set
    const keys = [this.keys.run(runId), this.keys.events(runId), ...(isTerminal(req.record.status) ? [this.keys.stats, this.keys.live] : [])];
    if (req.record.idem) keys.push(this.keys.idemOf(req.record.agent_id, req.record.idem));
    const json = serializeRecord(req.record);
    // a UTF-16 unit is at most 3 bytes: most records are far below the cap without counting
    const reserve = req.reserveBytes ?? 0;
    if (req.capped && this.maxRecordBytes > 0 && json.length * 3 + reserve > this.maxRecordBytes) {
      const bytes = Buffer.byteLength(json);
      if (bytes + reserve > this.maxRecordBytes) {
        const more = reserve > 0 ? ` (+ ${reserve} its next write adds)` : '';
        throw new StoreError('record_too_large', `run ${runId}: the record would be ${bytes} bytes${more}, over the ${this.maxRecordBytes} of RUN_RECORD_MAX_BYTES`);
      }
    }
    const reply = await this.scripts.run('commit', keys, [
      req.ifStatus.join(','), req.ifLease ?? '', json, this.ttlOf(req.record),
      this.keys.eventsChannel, runId, req.ifRaw ?? '',
      ...(req.events ?? []).map(encodeEvent),
      // the events key made another type by hand: the script stopped before writing anything
    ]).catch(wrongType(runId, EVENTS_WRONG_TYPE));
    return commitResult(reply);
  }

  /**
   * A record expires RUN_TTL_SEC after its last write — or, parked, not before it is due to wake
   * (`waiting.until`) plus a margin: a poll interval or a Retry-After longer than the TTL would
   * otherwise let a waiting run expire in its sleep (its job then found no record: `run_missing`).
   * A cancelled one lives at least CANCELLED_MIN_TTL_SEC, for its compensation's retries, and a
   * finished one with a webhook WEBHOOK_MIN_TTL_SEC, for its delivery's.
   */
  private ttlOf(r: RunRecord): number {
    // a cancelled run's compensation (cancel_task, its children) reads it, retrying for minutes
    if (r.status === 'cancelled') return Math.max(this.ttlSec, CANCELLED_MIN_TTL_SEC);
    // its webhook is built from it at every attempt: expired in between, the webhook was lost
    if (r.webhook && isTerminal(r.status)) return Math.max(this.ttlSec, WEBHOOK_MIN_TTL_SEC);
    if (r.status !== 'waiting' || r.waiting === undefined) return this.ttlSec;
    const dueSec = Math.ceil((Date.parse(r.waiting.until) - Date.now()) / 1000);
    return Number.isFinite(dueSec) ? Math.max(this.ttlSec, dueSec + PARK_TTL_MARGIN_SEC) : this.ttlSec;
  }

  /**
   * Events in order, strictly after the stream id `after` (SSE Last-Event-ID). Entries without a
   * decodable `e` field (hand-added by someone) are skipped rather than breaking the stream.
   */
  async events(runId: string, opts: { after?: string; limit?: number } = {}): Promise<RunEvent[]> {
    return (await this.eventPage(runId, opts)).events;
  }

  /** As `events`, with where the read stopped: a follower resumes after `last`, not after its last event. */
  async eventPage(runId: string, opts: { after?: string; limit?: number } = {}): Promise<EventPage> {
    const { after, limit = 1000 } = opts;
    if (after !== undefined && !isStreamId(after)) throw new StoreError('bad_event_id', `not an event id: ${after.slice(0, 64)}`);
    // nothing can follow the largest id (and Redis refuses it as an exclusive start)
    if (after === LAST_STREAM_ID) return { events: [], read: 0, last: undefined };
    const entries = await this.redis.xrange(this.keys.events(runId), after === undefined ? '-' : `(${after}`, '+', 'COUNT', limit)
      .catch(wrongType(runId, EVENTS_WRONG_TYPE));
    return { events: entries.flatMap(([id, fields]) => decodeEvent(id, fields) ?? []), read: entries.length, last: entries.at(-1)?.[0] };
  }

  /**
   * Where `id` stands in the run's event stream: `found` (an entry of it: reading after it hides
   * nothing), `not_found` (another run's id, one beyond the last, one trimmed away), or `no_log`
   * when the stream itself is gone (expired or deleted while the record stayed, e.g. after an
   * operator's hand-SET gave the record a longer life).
   */
  async findEvent(runId: string, id: string): Promise<'found' | 'not_found' | 'no_log'> {
    if (!isStreamId(id)) throw new StoreError('bad_event_id', `not an event id: ${id.slice(0, 64)}`);
    const key = this.keys.events(runId);
    const [[xErr, entries] = [null, []], [eErr, exists] = [null, 0]] = (await this.redis.pipeline().xrange(key, id, id, 'COUNT', 1).exists(key).exec()) ?? [];
    for (const err of [xErr, eErr]) if (err) wrongType(runId, EVENTS_WRONG_TYPE)(err);
    if ((entries as unknown[]).length > 0) return 'found';
    return exists ? 'not_found' : 'no_log';
  }

  /**
   * Rolls back a create: deletes the run, its events, its index entries and (if it still names this
   * run) the idempotency key, and takes back its `created` count.
   */
  async remove(runId: string, idempotency?: { agentId: string; key: string }): Promise<boolean> {
    const k = this.keys;
    const keys = [k.run(runId), k.events(runId), k.index, k.live, k.stats];
    if (idempotency) keys.push(k.idem(idempotency.agentId, idempotency.key));
    return removeResult(await this.scripts.run('remove', keys, [runId]));
  }

  /**
   * Drops `runs:index` entries older than the window create.lua keeps (2 × TTL; it trims on every
   * create, this is for a deployment that stopped creating runs). Returns how many went.
   */
  trimIndex(nowMs: number): Promise<number> {
    return this.redis.zremrangebyscore(this.keys.index, '-inf', `(${nowMs - INDEX_KEEP_TTLS * this.ttlSec * 1000}`);
  }

  /**
   * One small write (SET of `writeProbe`, 10 s PX): resolves while Redis takes writes, rejects while
   * it refuses them (out of memory, read-only, …) or is away. The API's /healthz and a worker's
   * refusal guard (apps/worker/src/refusals.ts).
   */
  probeWrite(): Promise<unknown> {
    return this.redis.set(this.keys.writeProbe, '1', 'PX', 10_000);
  }

  /**
   * Runs not finished yet (the `live` set), oldest first, at most `count`, created before `beforeMs`
   * (default: all), each with its creation ms — by the clock of the process that created it (an API,
   * or a worker for schedule and child runs), not necessarily the reader's. The set also holds runs
   * finished by hand, deleted or expired until `forgetLive` drops them: read the record before
   * acting on an id.
   */
  async liveEntries(count: number, beforeMs = Infinity): Promise<Array<{ id: string; createdMs: number }>> {
    const max = beforeMs === Infinity ? '+inf' : `(${beforeMs}`;
    return pairs(await this.redis.zrangebyscore(this.keys.live, '-inf', max, 'WITHSCORES', 'LIMIT', 0, count)).map((e) => ({ id: e.id, createdMs: e.score }));
  }

  /**
   * Once per deployment (until `liveFilled` is deleted): adds to the live set the unfinished runs
   * the listing index holds, i.e. those created before the live set existed. Walks the index oldest
   * first, one script call per `pageSize` entries. Returns how many it added; null when it had run.
   */
  async fillLive(nowMs: number, pageSize = 1_000): Promise<number | null> {
    if (await this.redis.exists(this.keys.liveFilled)) return null;
    let total = 0;
    for (let min = '-inf'; ;) {
      const [added, last] = (await this.scripts.run('fill-live', [this.keys.index, this.keys.live], [this.keys.run(''), min, pageSize])) as [number, string];
      if (last === '') break;
      total += added;
      min = `(${last}`;
    }
    await this.redis.set(this.keys.liveFilled, new Date(nowMs).toISOString());
    return total;
  }

  /**
   * Drops ids from the live set (their runs are finished or gone). Returns how many were there.
   * A run finished by hand with the runbook's plain `SET` (no KEEPTTL) lost its expiry: it gets
   * RUN_TTL_SEC back here, and only a key without one is touched (TTL -1; not EXPIRE NX, which
   * needs Redis 7 where BullMQ needs 6.2).
   */
  async forgetLive(runIds: readonly string[]): Promise<number> {
    if (runIds.length === 0) return 0;
    const keys = runIds.flatMap((id) => [this.keys.run(id), this.keys.events(id)]);
    const read = this.redis.pipeline().zrem(this.keys.live, ...runIds);
    for (const k of keys) read.ttl(k);
    const [[err, removed] = [null, 0], ...ttls] = (await read.exec()) ?? [];
    if (err) throw err;
    const lost = keys.filter((_, i) => ttls[i]?.[1] === -1);
    if (lost.length > 0) {
      const fix = this.redis.pipeline();
      for (const k of lost) fix.expire(k, this.ttlSec);
      await fix.exec();
    }
    return removed as number;
  }

  /**
   * Keeps live runs from expiring while they wait for a worker: a record expires RUN_TTL_SEC after
   * its last write, and a queued run's last write is its creation — a queue paused, a backlog or
   * every worker down for longer would lose accepted runs (`run_missing` when a worker finally took
   * the job). For each id whose record expires within `floorSec`, its record, events and
   * idempotency key get `floorSec` (only ever raised; a key without expiry or a missing one is left
   * alone). One TTL read per id; the records of those that need it are read for their `idem`.
   * Housekeeping calls it for live runs whose job is still due. Returns how many were extended.
   */
  async keepLive(runIds: readonly string[], floorSec: number): Promise<number> {
    if (runIds.length === 0) return 0;
    const ttls = await this.redis.pipeline(runIds.map((id) => ['ttl', this.keys.run(id)])).exec();
    const due = runIds.filter((_, i) => {
      const [err, ttl] = ttls![i]!;
      if (err) throw err;
      return (ttl as number) >= 0 && (ttl as number) < floorSec;
    });
    if (due.length === 0) return 0;
    const raws = await this.redis.pipeline(due.map((id) => ['get', this.keys.run(id)])).exec();
    const keys: string[] = [];
    for (const [i, id] of due.entries()) {
      const [err, raw] = raws![i]!;
      if (err || typeof raw !== 'string') continue; // gone meanwhile, or another type (hand-broken)
      keys.push(this.keys.run(id), this.keys.events(id));
      try {
        const rec = parseRecord(raw, id);
        if (rec.idem) keys.push(this.keys.idemOf(rec.agent_id, rec.idem));
      } catch { /* a hand-broken record: keep it and its events, as found */ }
    }
    const left = await this.redis.pipeline(keys.map((k) => ['ttl', k])).exec();
    const raise = keys.filter((_, i) => {
      const ttl = left![i]![1] as number;
      return ttl >= 0 && ttl < floorSec;
    });
    if (raise.length > 0) await this.redis.pipeline(raise.map((k) => ['expire', k, floorSec])).exec();
    return due.length;
  }

  /**
   * Keeps the runs that outlive the listing indexes listable (`runs:long`, see Keys.long): adds
   * every live run created more than a TTL ago — well before create.lua's trim (2 × TTL) drops its
   * index entries — and drops entries whose run is gone. Housekeeping calls it every pass; at most
   * `max` runs are examined each way per call. Two walks of the live set, oldest first: on from the
   * newest run already copied (that one's millisecond included) — from the oldest live run alone,
   * more than `max` live runs older than a TTL kept the same `max` in view, and every run after them
   * dropped out of the listings at 2 × TTL — and from the oldest, for a run created with a score
   * below that (its creator's clock behind). Returns how many it added and dropped.
   */
  async keepListed(nowMs: number, max = 10_000): Promise<{ added: number; dropped: number }> {
    const cutoff = `(${nowMs - this.ttlSec * 1000}`;
    const newest = await this.redis.zrevrange(this.keys.long, 0, 0, 'WITHSCORES');
    const walks = await Promise.all([newest.length === 2 ? newest[1]! : null, '-inf'].map((from) =>
      from === null ? [] : this.redis.zrangebyscore(this.keys.live, from, cutoff, 'WITHSCORES', 'LIMIT', 0, max)));
    const pairs: string[] = [];
    for (const flat of walks) for (let i = 0; i + 1 < flat.length; i += 2) pairs.push(flat[i + 1]!, flat[i]!);
    const added = pairs.length > 0 ? await this.redis.zadd(this.keys.long, 'NX', ...pairs) : 0;
    const ids = await this.redis.zrangebyscore(this.keys.long, '-inf', '+inf', 'LIMIT', 0, max);
    const dropped = await dropExpired(this.redis, this.keys, this.keys.long, ids.map((id) => ({ id })));
    return { added: Number(added), dropped };
  }

  /**
   * Newest first (created ms, then run id), strictly after `after`, filtered (see ListQuery).
   * Runs that expired are dropped from the index on the way; hand-broken records are skipped, so
   * one bad record cannot break the listing (get() reports it).
   */
  list(query: ListQuery): Promise<RunList> {
    return listRuns(this.redis, this.keys, query);
  }

  /** Cluster-wide counters since the deployment began (create.lua / commit.lua keep them). */
  async stats(): Promise<RunStats> {
    const raw = await this.redis.hgetall(this.keys.stats);
    const out: RunStats = { created: [], finished: [] };
    for (const [field, value] of Object.entries(raw)) {
      const [kind, graph, status] = field.split('|');
      const count = Number(value);
      if (!graph || !Number.isFinite(count)) continue;
      if (kind === 'created') out.created.push({ graph, count });
      else if (kind === 'finished' && status) out.finished.push({ graph, status, count });
    }
    return out;
  }

  /** Seconds until the run record expires (-2: no such run, -1: no expiry, e.g. hand-SET). */
  ttl(runId: string): Promise<number> {
    return this.redis.ttl(this.keys.run(runId));
  }
}
