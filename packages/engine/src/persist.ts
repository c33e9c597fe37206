import type { AnyMachineSnapshot, AnyStateMachine } from 'xstate';

/**
 * `machine.getPersistedSnapshot(s)` for a graph machine, without its generic work: xstate builds
 * the object by rest-destructuring the snapshot (ten keys left out), spreading the rest and
 * serialising history values and child actors — ~3 % of a worker's CPU on no-op steps, for
 * machines that have neither history states nor children. The result is the same object, key for
 * key and in the same order (so the same JSON): `{ status, output, error, value, historyValue,
 * context, children }`, sharing `value` and `context` with the live snapshot as xstate's does.
 *
 * Like xstate's `persistContext`, the context is walked in full: an actor reference anywhere in it
 * (something with `sessionId`, `send` and `ref`, which xstate would replace) sends the snapshot
 * to xstate's own function, and a value nested too deep for the stack throws the same RangeError.
 */
export function persistSnapshot(machine: AnyStateMachine, s: AnyMachineSnapshot): object {
  const { children, historyValue } = s as { children: object; historyValue: object | undefined };
  if (!isEmpty(children) || (historyValue !== undefined && !isEmpty(historyValue)) || hasActorRef(s.context)) {
    return machine.getPersistedSnapshot(s) as object;
  }
  return { status: s.status, output: s.output, error: s.error, value: s.value, historyValue: {}, context: s.context, children: {} };
}

function isEmpty(o: object): boolean {
  for (const _ in o) return false;
  return true;
}

/** The walk xstate's persistContext does (for...in, recursively, arrays included). */
function hasActorRef(v: object): boolean {
  for (const key in v) {
    const value = (v as Record<string, unknown>)[key];
    if (value && typeof value === 'object') {
      if ('sessionId' in value && 'send' in value && 'ref' in value) return true;
      if (hasActorRef(value)) return true;
    }
  }
  return false;
}
