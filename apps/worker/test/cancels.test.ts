import { describe, expect, it } from '@jest/globals';
import { RunCancel } from '../src/cancels.js';

describe('RunCancel', () => {
  it('behaves as an AbortSignal: aborts once with its reason, calls each listener once, none added late or removed', () => {
    const c = new RunCancel();
    const calls: string[] = [];
    const a = () => calls.push('a');
    const b = () => calls.push('b');
    const removed = () => calls.push('removed');
    c.addEventListener('abort', a);
    c.addEventListener('abort', b);
    c.addEventListener('abort', removed);
    c.removeEventListener('abort', removed);
    expect(c.aborted).toBe(false);
    expect(() => c.throwIfAborted()).not.toThrow();
    const reason = new Error('cancel requested');
    c.abort(reason);
    c.abort(new Error('again'));
    expect(calls).toEqual(['a', 'b']);
    expect(c.aborted).toBe(true);
    expect(c.reason).toBe(reason);
    expect(() => c.throwIfAborted()).toThrow(reason);
    c.addEventListener('abort', () => calls.push('late'));
    c.abort(reason);
    expect(calls).toEqual(['a', 'b']);
  });
});
