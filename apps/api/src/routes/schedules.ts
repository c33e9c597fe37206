import { Router } from 'express';
import { Counter, type Registry } from 'prom-client';
import { z } from 'zod';
import { AppError, publicRun } from '@sup/contracts';
import { OVERLAP, SCHEDULE_ID_RE, type ScheduleService } from '@sup/schedules';
import { parse, parseQuery } from '../errors.js';

const TriggerBody = z.strictObject({ overlap: z.enum(OVERLAP).optional() }).default({});
const RunsQuery = z.strictObject({ limit: z.coerce.number().int().min(1).max(1000).default(100) });
const ListQuery = RunsQuery.extend({ cursor: z.string().max(200).optional() });

/** The cursor of GET /v1/schedules: base64url of the last schedule id of the page (opaque to clients). */
export function decodeScheduleCursor(cursor: string): string {
  const id = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!SCHEDULE_ID_RE.test(id)) throw new AppError(400, 'invalid_cursor', 'cursor is not a next_cursor this API returned');
  return id;
}

/** Cron/interval schedules that start runs; the BullMQ job schedulers behind them fire the ticks. */
export function scheduleRoutes(svc: ScheduleService): Router {
  const r = Router();

  r.post('/v1/schedules', async (req, res) => {
    if (!req.is('application/json')) throw new AppError(415, 'unsupported_media_type', 'send Content-Type: application/json');
    const { created, view } = await svc.upsert(req.body);
    res.status(created ? 201 : 200).location(`/v1/schedules/${view.id}`).json(view);
  });

  r.get('/v1/schedules', async (req, res) => {
    const q = parseQuery(ListQuery, req.query);
    const page = await svc.list({ limit: q.limit, ...(q.cursor ? { after: decodeScheduleCursor(q.cursor) } : {}) });
    res.json({ schedules: page.schedules, next_cursor: page.next === null ? null : Buffer.from(page.next).toString('base64url') });
  });

  r.get('/v1/schedules/:id', async (req, res) => {
    res.json(await svc.view(await svc.get(req.params.id)));
  });

  r.delete('/v1/schedules/:id', async (req, res) => {
    res.json(await svc.remove(req.params.id));
  });

  r.post('/v1/schedules/:id/trigger', async (req, res) => {
    const body = parse(TriggerBody, req.body ?? {}, 'request body');
    const out = await svc.trigger(req.params.id, body.overlap);
    switch (out.outcome) {
      case 'fired':
        return void res.status(202).location(`/v1/runs/${out.run.run_id}`).json(publicRun(out.run));
      case 'skipped':
        throw new AppError(409, 'schedule_overlap', `schedule ${req.params.id} skips this run: its last run ${out.running_run_id} is still unfinished (overlap: skip; send {"overlap":"allow"} to start one anyway)`, { running_run_id: out.running_run_id });
      case 'busy':
        throw new AppError(409, 'schedule_busy', `schedule ${req.params.id} is starting a run right now; try again`);
      case 'invalid':
        throw new AppError(409, 'schedule_invalid', `schedule ${req.params.id} cannot start a run: ${out.message}`);
      default:
        throw new AppError(404, 'schedule_not_found', `no schedule ${req.params.id}`);
    }
  });

  r.get('/v1/schedules/:id/runs', async (req, res) => {
    const s = await svc.get(req.params.id);
    const q = parseQuery(RunsQuery, req.query);
    res.json({ schedule_id: s.id, runs: (await svc.runs(s.id, q.limit)).map(publicRun) });
  });

  r.get('/v1/schedules/:id/ticks', async (req, res) => {
    const s = await svc.get(req.params.id);
    const q = parseQuery(RunsQuery, req.query);
    res.json({ schedule_id: s.id, ticks: await svc.ticks(s.id, q.limit) });
  });

  return r;
}

/**
 * `sup_schedule_ticks_total{schedule, outcome}`: runs started and ticks skipped by overlap, read from
 * Redis at scrape time like the run counters, so every API process answers the same.
 */
export function registerScheduleMetrics(registry: Registry, svc: ScheduleService): void {
  new Counter({
    name: 'sup_schedule_ticks_total', help: 'Schedule ticks by outcome: fired (a run started) or skipped (overlap: skip, previous run unfinished)',
    labelNames: ['schedule', 'outcome'], registers: [registry],
    async collect() {
      const all = await svc.counters();
      this.reset();
      for (const c of all) {
        this.inc({ schedule: c.id, outcome: 'fired' }, c.fired);
        this.inc({ schedule: c.id, outcome: 'skipped' }, c.skipped);
      }
    },
  });
}
