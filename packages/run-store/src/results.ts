import { StoreError } from './errors.js';

/** The one place where the Lua scripts' return codes (see each script's header) become types. */

export type CommitResult =
  | { ok: true }
  | { ok: false; reason: 'not_found' | 'corrupt' | 'status' | 'lease' | 'changed'; status?: string; lease?: string | null };

export type CreateReply = { created: true } | { created: false; json: string; runId: string };

function codeOf(reply: unknown, script: string): [string, ...unknown[]] {
  if (!Array.isArray(reply) || typeof reply[0] !== 'string') {
    throw new StoreError('unexpected_reply', `${script}.lua answered ${JSON.stringify(reply)}`);
  }
  return reply as [string, ...unknown[]];
}

function unexpected(script: string, reply: unknown[]): never {
  throw new StoreError('unexpected_reply', `${script}.lua answered ${JSON.stringify(reply)}`);
}

export function createResult(reply: unknown, runId: string): CreateReply {
  const r = codeOf(reply, 'create');
  switch (r[0]) {
    case 'created':
      return { created: true };
    case 'existing':
      return { created: false, json: String(r[1]), runId: String(r[2]) };
    case 'exists':
      throw new StoreError('run_exists', `run ${runId} exists already`);
    default:
      return unexpected('create', r);
  }
}

export function commitResult(reply: unknown): CommitResult {
  const r = codeOf(reply, 'commit');
  switch (r[0]) {
    case 'ok':
      return { ok: true };
    case 'not_found':
    case 'corrupt':
    case 'changed':
      return { ok: false, reason: r[0] };
    case 'status':
      return { ok: false, reason: 'status', status: String(r[1]) };
    case 'lease':
      return { ok: false, reason: 'lease', lease: r[1] == null ? null : String(r[1]) };
    default:
      return unexpected('commit', r);
  }
}

/** True when the run record existed. */
export function removeResult(reply: unknown): boolean {
  const r = codeOf(reply, 'remove');
  if (r[0] === 'removed') return true;
  if (r[0] === 'not_found') return false;
  return unexpected('remove', r);
}
