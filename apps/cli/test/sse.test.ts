import { describe, expect, it } from '@jest/globals';
import { parseSse } from '../src/events.js';

function body(...chunks: string[]): ReadableStream<Uint8Array> {
  const enc = new TextEncoder();
  return new ReadableStream({ start(c) { for (const ch of chunks) c.enqueue(enc.encode(ch)); c.close(); } });
}

describe('parseSse', () => {
  it('frames messages split across chunks, with CRLF, comments and multi-line data', async () => {
    const out = [];
    for await (const m of parseSse(body(': following\n\nid: 1-0\nevent: run_cre', 'ated\ndata: {"a":\r', '\ndata: 1}\r\n\r\n: keepalive\n\ndata:x\n\n'))) out.push(m);
    expect(out).toEqual([{ id: '1-0', event: 'run_created', data: '{"a":\n1}' }, { data: 'x' }]);
  });

  it('drops a message the stream cut off before its blank line', async () => {
    const out = [];
    for await (const m of parseSse(body('id: 1-0\ndata: {}\n\nid: 2-0\ndata: {"half'))) out.push(m);
    expect(out).toEqual([{ id: '1-0', data: '{}' }]);
  });
});
