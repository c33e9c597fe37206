import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import request from 'supertest';
import { event, type EventType, type RunRecord, type RunStatus } from '@sup/contracts';
import { graphs } from '@sup/graphs';
import { createLogger } from '@sup/logging';
import { createKeys, RunStore } from '@sup/run-store';
import { createRunQueue } from '@sup/queue';
import { createApp } from '../src/app.js';
import { EventFollower } from '../src/sse/follower.js';
import { until } from '@sup/testkit';
import { follow } from './sse-client.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
// every connection of this file carries the tag in its CLIENT SETNAME, so CLIENT LIST can count them
const tag = `t-sse-${randomBytes(4).toString('hex')}`;
const prefix = `${tag}:`;
const redis = new Redis(REDIS_URL, { connectionName: `${tag}-store` });
const bull = new Redis(REDIS_URL, { maxRetriesPerRequest: null, connectionName: `${tag}-bull` });
const store = new RunStore({ redis, prefix, ttlSec: 600 });
const queue = createRunQueue(bull, prefix);
const log = createLogger({ service: 'sse-test', stream: new PassThrough() });

/** An API process with its own follower; `heartbeatMs` long by default, so only notifications can deliver in time. */
function api(name: string, heartbeatMs = 600_000, runs: RunStore = store) {
  const follower = new EventFollower({
    subscriber: new Redis(REDIS_URL, { connectionName: `${tag}-${name}-events` }), channel: createKeys(prefix).eventsChannel, log, heartbeatMs,
    runStatus: (id) => runs.status(id),
  });
  const app = createApp({
    redis, store: runs, queue, graphs, log, follower, cancelChannel: createKeys(prefix).cancelChannel,
    config: { apiKeys: [], bodyLimitKb: 16, gatewayUrl: 'http://router:8000', ttlSec: 600, metricsPublic: false },
  });
  const server: Server = createServer(app);
  return { app, follower, server, url: '' };
}
const main = api('main');
const fast = api('fast', 50);
/** Every read of a run record through the store of `counting` (its heartbeat is fast too). */
const recordReads: string[] = [];
const countingStore = Object.assign(Object.create(store) as RunStore, {
  get: (id: string) => (recordReads.push(`get ${id}`), store.get(id)),
  read: (id: string) => (recordReads.push(`read ${id}`), store.read(id)),
  status: (id: string) => (recordReads.push(`status ${id}`), store.status(id)),
});
const counting = api('counting', 50, countingStore);
const apis = [main, fast, counting];

beforeAll(async () => {
  for (const a of apis) {
    await new Promise<void>((r) => a.server.listen(0, '127.0.0.1', r));
    a.url = `http://127.0.0.1:${(a.server.address() as AddressInfo).port}`;
  }
});
afterAll(async () => {
  for (const a of apis) {
    await a.follower.close();
    await new Promise((r) => a.server.close(r));
  }
  await queue.obliterate({ force: true }).catch(() => undefined);
  await queue.close();
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length) await redis.del(...keys);
  await Promise.all([redis.quit(), bull.quit()]);
});

async function newRun(): Promise<string> {
  const res = await request(main.app).post('/v1/graphs/release_check/runs').send({ agent_id: 'sofiia', input: { service: 'billing', version: '1.0.0' } });
  expect(res.status).toBe(202);
  return res.body.run_id as string;
}

/** What the worker does: one compare-and-set with the record and its events. */
async function step(id: string, status: RunStatus, ...types: EventType[]): Promise<void> {
  const rec = (await store.get(id)) as RunRecord;
  const res = await store.commit(id, { ifStatus: [rec.status], record: { ...rec, status }, events: types.map((t) => event(t, 'start_job')) });
  expect(res.ok).toBe(true);
}

const typesOf = (evs: { data: { type: string } }[]) => evs.map((e) => e.data.type);
const eventsUrl = (a: { url: string }, id: string, q = '') => `${a.url}/v1/runs/${id}/events${q}`;

describe('GET /v1/runs/{id}/events as Server-Sent Events', () => {
  it('streams every event live, in order, to a follower that came before the run started, then ends', async () => {
    const id = await newRun();
    const f = follow(eventsUrl(main, id));
    await f.waitForEvents(1);
    expect(f.status).toBe(200);
    expect(f.headers?.['content-type']).toMatch(/^text\/event-stream/);

    await step(id, 'running', 'run_started', 'node_started');
    await f.waitForEvents(3);
    await step(id, 'running', 'node_finished', 'node_started');
    await step(id, 'running', 'node_finished');
    await step(id, 'succeeded', 'run_succeeded');
    await f.waitForEnd();
    // appended after the final event: not this stream's business any more
    await step(id, 'succeeded', 'webhook_delivered');

    const stored = await store.events(id);
    expect(typesOf(f.events)).toEqual(['run_created', 'run_started', 'node_started', 'node_finished', 'node_started', 'node_finished', 'run_succeeded']);
    expect(f.events.map((e) => e.id)).toEqual(stored.slice(0, 7).map((e) => e.id));
    expect(f.events.every((e) => e.event === e.data.type && e.id === e.data.id)).toBe(true);
    expect(main.follower.size).toBe(0);
  });

  it('resumes after Last-Event-ID (or ?after=) with only the rest, on ?follow=1 too', async () => {
    const id = await newRun();
    await step(id, 'running', 'run_started', 'node_started');
    const first = follow(eventsUrl(main, id));
    await first.waitForEvents(3);
    first.destroy();
    await step(id, 'running', 'node_finished', 'node_started');
    const last = first.events[2]!.id;

    const resumed = follow(eventsUrl(main, id), { accept: 'text/event-stream', 'last-event-id': last });
    await resumed.waitForEvents(2);
    const byQuery = follow(eventsUrl(main, id, `?follow=1&after=${last}`), {});
    await byQuery.waitForEvents(2);
    await step(id, 'failed', 'node_failed', 'run_failed');
    await Promise.all([resumed.waitForEnd(), byQuery.waitForEnd()]);

    const rest = (await store.events(id, { after: last })).map((e) => e.id);
    expect(resumed.events.map((e) => e.id)).toEqual(rest);
    expect(byQuery.events.map((e) => e.id)).toEqual(rest);
    expect(typesOf(resumed.events)).toEqual(['node_finished', 'node_started', 'node_failed', 'run_failed']);
  });

  it('sends a finished run whole and ends; after its last event it answers 204 so EventSource stops', async () => {
    const id = await newRun();
    await step(id, 'cancelled', 'run_cancel_requested', 'run_cancelled');
    const f = follow(eventsUrl(main, id));
    await f.waitForEnd();
    expect(typesOf(f.events)).toEqual(['run_created', 'run_cancel_requested', 'run_cancelled']);
    const again = follow(eventsUrl(main, id), { accept: 'text/event-stream', 'last-event-id': f.events.at(-1)!.id });
    await again.waitForEnd();
    expect(again.status).toBe(204);
    expect(again.events).toEqual([]);
  });

  it('events after the final one (webhook, compensation): not on a stream from the start, only on one resumed after the final event', async () => {
    const id = await newRun();
    await step(id, 'cancelled', 'run_cancelled');
    await step(id, 'cancelled', 'webhook_delivered');
    await step(id, 'cancelled', 'compensation_done');
    const whole = follow(eventsUrl(main, id));
    await whole.waitForEnd();
    expect([whole.status, typesOf(whole.events)]).toEqual([200, ['run_created', 'run_cancelled']]);
    const after = follow(eventsUrl(main, id), { accept: 'text/event-stream', 'last-event-id': whole.events.at(-1)!.id });
    await after.waitForEnd();
    expect([after.status, typesOf(after.events)]).toEqual([200, ['webhook_delivered', 'compensation_done']]);
    const caughtUp = follow(eventsUrl(main, id), { accept: 'text/event-stream', 'last-event-id': after.events.at(-1)!.id });
    await caughtUp.waitForEnd();
    expect(caughtUp.status).toBe(204);
  });

  it('keeps the JSON answer without Accept: text/event-stream', async () => {
    const id = await newRun();
    const res = await request(main.app).get(`/v1/runs/${id}/events`);
    expect(res.headers['content-type']).toMatch(/application\/json/);
    expect(res.body.events.map((e: { type: string }) => e.type)).toEqual(['run_created']);
  });

  it.each(['abc', '1-2-3', '18446744073709551616-0', '-1-0'])('answers 400 JSON to Last-Event-ID %j', async (bad) => {
    const id = await newRun();
    const res = await request(main.app).get(`/v1/runs/${id}/events`).set('Accept', 'text/event-stream').set('Last-Event-ID', bad);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_event_id');
  });

  it('answers 400 to event ids beyond 64 bits on the JSON form too', async () => {
    const id = await newRun();
    for (const after of ['18446744073709551616-0', '0-18446744073709551616']) {
      const res = await request(main.app).get(`/v1/runs/${id}/events?after=${after}`);
      expect([after, res.status, res.body.error?.code]).toEqual([after, 400, 'invalid_event_id']);
    }
  });

  it('answers 400 unknown_event_id, before any stream, to an id that is not in the run\'s log: another run\'s, or beyond its end', async () => {
    const other = await newRun();
    const [foreign] = await store.events(other);
    // stream ids are per stream: events written in the same millisecond share ids, so this run's
    // are all written after it
    await until('a later millisecond', () => Date.now() > Number(foreign!.id!.split('-')[0]) + 1);
    const id = await newRun();
    await step(id, 'running', 'run_started');
    const [first] = await store.events(id);
    const beyond = `${Number(first!.id!.split('-')[0]) + 3_600_000}-0`;
    const max = '18446744073709551615-18446744073709551615';
    for (const status of ['running', 'succeeded'] as const) {
      if (status === 'succeeded') await step(id, 'succeeded', 'run_succeeded');
      for (const bad of [foreign!.id!, beyond, max]) {
        const sse = await request(main.app).get(`/v1/runs/${id}/events`).set('Accept', 'text/event-stream').set('Last-Event-ID', bad);
        const byQuery = await request(main.app).get(`/v1/runs/${id}/events?follow=1&after=${bad}`);
        const json = await request(main.app).get(`/v1/runs/${id}/events?after=${bad}`);
        for (const res of [sse, byQuery, json]) {
          expect([status, bad, res.status, res.headers['content-type'], res.body.error?.code, res.body.error?.details]).toEqual([
            status, bad, 400, expect.stringMatching(/^application\/json/), 'unknown_event_id', { event_id: bad, event_log: 'present' },
          ]);
        }
      }
    }
    expect(main.follower.size).toBe(0);
    // 0-0 is the start; the final event a resume point like any other (nothing left: 204)
    const all = await request(main.app).get(`/v1/runs/${id}/events?after=0-0`);
    expect(all.body.events.map((e: { type: string }) => e.type)).toEqual(['run_created', 'run_started', 'run_succeeded']);
    const whole = follow(eventsUrl(main, id), { accept: 'text/event-stream', 'last-event-id': '0-0' });
    await whole.waitForEnd();
    expect(typesOf(whole.events)).toEqual(['run_created', 'run_started', 'run_succeeded']);
    const done = follow(eventsUrl(main, id), { accept: 'text/event-stream', 'last-event-id': whole.events.at(-1)!.id });
    await done.waitForEnd();
    expect(done.status).toBe(204);
    const last = await request(main.app).get(`/v1/runs/${id}/events?after=${whole.events.at(-1)!.id}`);
    expect([last.status, last.body.events]).toEqual([200, []]);
  });

  it('says so when the run\'s event log is gone while its record stayed: no id can be resumed after', async () => {
    const id = await newRun();
    const [created] = await store.events(id);
    await redis.del(`${prefix}run:${id}:events`);
    const res = await request(main.app).get(`/v1/runs/${id}/events?after=${created!.id}`);
    expect([res.status, res.body.error.code, res.body.error.details]).toEqual([400, 'unknown_event_id', { event_id: created!.id, event_log: 'missing' }]);
    expect(res.body.error.message).toMatch(/no event log any more/);
  });

  it('checks the query of a stream as strictly as the JSON form\'s; follow takes 1/true/0/false only', async () => {
    const id = await newRun();
    for (const q of ['?follow=1&limit=abc', '?follow=1&bogus=1', '?follow=yes', '?follow=on&bogus=1', '?follow=1&follow=1']) {
      for (const accept of ['text/event-stream', 'application/json']) {
        const res = await request(main.app).get(`/v1/runs/${id}/events${q}`).set('Accept', accept);
        expect([q, accept, res.status, res.headers['content-type'], res.body.error?.code]).toEqual([q, accept, 400, expect.stringMatching(/^application\/json/), 'validation_failed']);
      }
    }
    const yes = await request(main.app).get(`/v1/runs/${id}/events?follow=yes`);
    expect(yes.body.error.message).toMatch(/follow/);
    expect(yes.body.error.details).toEqual([expect.objectContaining({ path: 'follow' })]);
    expect(main.follower.size).toBe(0);
    // true streams like 1 (limit is checked, and is the JSON form's page size only); 0/false answer JSON even to EventSource's Accept
    const streamed = follow(eventsUrl(main, id, '?follow=true&limit=1'), {});
    await streamed.waitForEvents(1);
    expect(streamed.headers?.['content-type']).toMatch(/^text\/event-stream/);
    streamed.destroy();
    for (const off of ['0', 'false']) {
      const res = await request(main.app).get(`/v1/runs/${id}/events?follow=${off}`).set('Accept', 'text/event-stream');
      expect([off, res.status, res.headers['content-type'], res.body.events?.length]).toEqual([off, 200, expect.stringMatching(/^application\/json/), 1]);
    }
  });

  it('answers HEAD on a live stream at once with the stream headers, holding nothing open', async () => {
    const id = await newRun();
    const before = main.follower.size;
    const res = await request(main.app).head(`/v1/runs/${id}/events?follow=1`);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/event-stream/);
    expect(main.follower.size).toBe(before);
  });

  it('steps over event-log entries that are not events (added by hand), also a page full of them, and still sends the final event', async () => {
    const id = await newRun();
    const f = follow(eventsUrl(main, id));
    await f.waitForEvents(1);
    const junk = redis.pipeline();
    for (let i = 0; i < 1_200; i++) junk.xadd(`${prefix}run:${id}:events`, '*', 'note', `operator ${i}`);
    await junk.exec();
    await step(id, 'running', 'run_started');
    await step(id, 'cancelled', 'run_cancelled');
    await f.waitForEnd();
    expect(typesOf(f.events)).toEqual(['run_created', 'run_started', 'run_cancelled']);
    // a client that joins now gets the whole run, and one resuming after its last event gets 204
    const late = follow(eventsUrl(main, id));
    await late.waitForEnd();
    expect(typesOf(late.events)).toEqual(['run_created', 'run_started', 'run_cancelled']);
    const resumed = follow(eventsUrl(main, id), { accept: 'text/event-stream', 'last-event-id': f.events[1]!.id });
    await resumed.waitForEnd();
    expect(typesOf(resumed.events)).toEqual(['run_cancelled']);
  });

  it('answers 404 JSON for an unknown run', async () => {
    const res = await request(main.app).get('/v1/runs/gr_nosuchrun1/events?follow=1');
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('run_not_found');
  });

  it('forgets a follower whose client went away', async () => {
    const id = await newRun();
    const f = follow(eventsUrl(main, id));
    await f.waitForEvents(1);
    const n = main.follower.size;
    expect(n).toBeGreaterThan(0);
    f.destroy();
    await until('the session to be dropped', () => main.follower.size === n - 1);
  });

  it('sends keepalive comments, and ends a run an operator finished by hand (no final event)', async () => {
    const id = await newRun();
    const f = follow(eventsUrl(fast, id));
    await f.waitForComment('keepalive');
    const rec = (await store.get(id)) as RunRecord;
    await redis.set(`${prefix}run:${id}`, JSON.stringify({ ...rec, status: 'failed' }), 'EX', 600);
    await f.waitForEnd();
    expect(typesOf(f.events)).toEqual(['run_created']);
  });
});

describe('many followers', () => {
  it('reads a followed run once per heartbeat, its status only, however many sessions follow it', async () => {
    const id = await newRun();
    const all = Array.from({ length: 10 }, () => follow(eventsUrl(counting, id)));
    await Promise.all(all.map((f) => f.waitForComment('following')));
    const keepalives = (f: (typeof all)[number]) => f.comments.filter((c) => c === 'keepalive').length;
    const before = all.map(keepalives);
    recordReads.length = 0;
    // every session was there for each of these heartbeats: each one saw them all
    await until('3 heartbeats on every session', () => all.every((f, i) => keepalives(f) - before[i]! >= 3));
    const beats = Math.max(...all.map((f, i) => keepalives(f) - before[i]!));
    const reads = recordReads.filter((r) => r.endsWith(id));
    expect(reads.filter((r) => !r.startsWith('status '))).toEqual([]);
    // one per heartbeat (+ one of a heartbeat under way), where it used to be one per session
    expect(reads.length).toBeGreaterThanOrEqual(beats - 1);
    expect(reads.length).toBeLessThanOrEqual(beats + 1);
    all.forEach((f) => f.destroy());
    await until('the sessions to be dropped', () => counting.follower.size === 0);
  });


  it('serves 50 concurrent followers over one subscriber connection, and ends them all', async () => {
    const id = await newRun();
    const one = follow(eventsUrl(main, id));
    await one.waitForEvents(1);
    const before = await connections();
    const rest = Array.from({ length: 49 }, () => follow(eventsUrl(main, id)));
    await Promise.all(rest.map((f) => f.waitForEvents(1)));
    expect(main.follower.size).toBe(50);
    expect(await connections()).toBe(before);

    await step(id, 'running', 'run_started', 'node_started');
    await step(id, 'succeeded', 'node_finished', 'run_succeeded');
    const all = [one, ...rest];
    await Promise.all(all.map((f) => f.waitForEnd()));
    const ids = (await store.events(id)).map((e) => e.id);
    for (const f of all) expect(f.events.map((e) => e.id)).toEqual(ids);
    expect(main.follower.size).toBe(0);
  });
});

/** Redis client connections of this test file (CLIENT LIST filtered by connection name). */
async function connections(): Promise<number> {
  const list = (await redis.client('LIST')) as string;
  return list.split('\n').filter((l) => l.includes(` name=${tag}-`)).length;
}

