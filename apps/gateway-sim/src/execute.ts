import { createHash, timingSafeEqual } from 'node:crypto';
import type { Request, Response } from 'express';
import { ToolRequest } from '@sup/contracts';
import type { Logger } from '@sup/logging';
import type { CallRecord, Outcome } from './calls.js';
import { latencyFor } from './config.js';
import { decideFault, errorBody, forcedBody, injectedBody, wait } from './faults.js';
import type { SimState } from './state.js';
import { CATALOGUE, malform } from './tools/index.js';

/** Body of `POST /v1/tools/execute`: the protocol's own schema, shared with the supervisor. */
export const ExecuteBody = ToolRequest;

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Constant-time check of `Authorization: Bearer <key>`. */
export function bearerOk(header: string | undefined, apiKey: string): boolean {
  const m = /^Bearer\s+(.+)$/i.exec(header ?? '');
  return m !== null && timingSafeEqual(digest(m[1]!.trim()), digest(apiKey));
}

/** Loose read of whatever identifying fields a (possibly invalid) body has, for the call record. */
function sniff(body: unknown) {
  const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  const c = (typeof b.context === 'object' && b.context !== null ? b.context : {}) as Record<string, unknown>;
  const str = (v: unknown) => (typeof v === 'string' ? v : null);
  const params = typeof b.params === 'object' && b.params !== null && !Array.isArray(b.params) ? (b.params as Record<string, unknown>) : undefined;
  return {
    tool: str(b.tool),
    action: str(b.action),
    run_id: str(c.run_id),
    node: str(c.node),
    agent_id: str(c.agent_id),
    idempotency_key: str(c.idempotency_key),
    ...(params ? { params } : {}),
  };
}

export function recordInvalid(state: SimState, body: unknown, status: number, outcome: Outcome): CallRecord {
  const rec = state.calls.add({
    ts: new Date(state.now()).toISOString(),
    ...sniff(body),
    duplicate: false,
    aborted: false,
    status,
    outcome,
    fault: null,
    executed: false,
    latency_ms: 0,
  });
  state.calls.finish(rec, {});
  return rec;
}

export function executeHandler(state: SimState, apiKey: string | null, log?: Logger) {
  return async (req: Request, res: Response): Promise<void> => {
    const rec = state.calls.add({
      ts: new Date(state.now()).toISOString(),
      ...sniff(req.body),
      duplicate: false,
      aborted: false,
      status: null,
      outcome: 'pending',
      fault: null,
      executed: false,
      latency_ms: 0,
    });

    // The client may go away while we wait; then nothing is written and the call is `aborted`.
    const ac = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) ac.abort();
    });
    const markAborted = () => {
      state.calls.finish(rec, { aborted: true, status: null, outcome: 'aborted' });
      log?.debug('sim_call_aborted', { seq: rec.seq, tool: rec.tool, action: rec.action, run: rec.run_id });
    };
    const send = (status: number, body: unknown, outcome: Outcome, headers: Record<string, string> = {}) => {
      if (ac.signal.aborted || res.destroyed) return markAborted();
      res.status(status).set(headers).json(body);
      state.calls.finish(rec, { status, outcome });
      log?.debug('sim_call', { seq: rec.seq, tool: rec.tool, action: rec.action, run: rec.run_id, node: rec.node, status, outcome, duplicate: rec.duplicate });
    };

    if (apiKey !== null && !bearerOk(req.get('authorization'), apiKey)) {
      res.set('WWW-Authenticate', 'Bearer realm="gateway-sim"');
      return send(401, errorBody('unauthorized', 'missing or invalid Authorization: Bearer <key> (the sim was started with SIM_API_KEY)'), 'unauthorized');
    }
    const forced = state.config.forceStatus;
    if (forced !== null) {
      rec.fault = 'forced';
      return send(forced, forcedBody(forced), 'forced', forced === 429 ? { 'Retry-After': String(state.config.retryAfterSec) } : {});
    }
    const parsed = ExecuteBody.safeParse(req.body);
    if (!parsed.success) {
      const issues = parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
      return send(400, errorBody('bad_request', 'invalid tool request body', { issues }), 'bad_request');
    }
    const { tool, action, params, context } = parsed.data;
    const name = `${tool}.${action}`;
    const def = CATALOGUE[name];
    if (!def) return send(404, errorBody('unknown_tool', `unknown tool/action "${name}"`), 'unknown_tool');

    const idemKey = `${name}\u0000${context.idempotency_key}`;
    rec.duplicate = state.executed.has(idemKey);

    /** Runs the tool (or replays the first answer of a side effect); returns what to send. */
    const execute = (): { status: number; body: unknown; outcome: Outcome } => {
      rec.executed = true;
      rec.duplicate = state.executed.has(idemKey);
      state.remember(idemKey);
      const stored = def.sideEffect ? state.answers.get(idemKey) : undefined;
      if (stored) return { ...stored, outcome: 'replayed' };
      const out = def.run(params, { now: state.now, config: state.config, stores: state.stores, idempotencyKey: context.idempotency_key });
      const answer = !out.ok
        ? { status: 200, body: out, outcome: 'tool_error' as const }
        : state.config.malformed[name]
          ? { status: 200, body: { ok: true, result: malform(out.result) }, outcome: 'malformed' as const }
          : { status: 200, body: out, outcome: 'ok' as const };
      if (def.sideEffect) state.remember(idemKey, { status: answer.status, body: answer.body });
      return answer;
    };

    const fault = decideFault(state.config, state.rng);
    if (fault.kind === 'timeout') {
      rec.fault = 'timeout';
      if (state.config.timeoutExecutes) execute(); // side effect done, answer lost
      const hang = state.config.hangMaxMs > 0 ? state.config.hangMaxMs : Infinity;
      if (!(await wait(hang, ac.signal))) return markAborted();
      return send(504, errorBody('gateway_timeout', `gateway-sim: injected hang ended after ${hang}ms`), 'timeout');
    }

    const delay = latencyFor(state.config, tool, action);
    rec.latency_ms = delay;
    if (!(await wait(delay, ac.signal))) return markAborted();

    if (fault.kind !== 'none') {
      rec.fault = fault.kind === 'rate_limited' ? '429' : '5xx';
      const headers: Record<string, string> = fault.kind === 'rate_limited' ? { 'Retry-After': String(fault.retryAfterSec) } : {};
      return send(fault.status, injectedBody(fault), fault.kind, headers);
    }
    const a = execute();
    return send(a.status, a.body, a.outcome);
  };
}
