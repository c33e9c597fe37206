import { STATUS_CODES, type Server } from 'node:http';
import type { Duplex } from 'node:stream';

/** What Node's parser refused, as the API's JSON error (status, code, message). */
function describe(code: string | undefined): [number, string, string] {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return [431, 'headers_too_large', 'request headers (or the URL) exceed the server limit (16 KiB)'];
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return [408, 'request_timeout', 'the request was not received in time'];
    default:
      return [400, 'bad_request', 'malformed HTTP request'];
  }
}

/**
 * Requests Node's HTTP parser refuses before Express sees them (headers over 16 KiB, a malformed
 * request line) are answered like every other error — `{"error":{code,message,details}}` — instead
 * of Node's bare status line with an empty body.
 */
export function jsonClientErrors(server: Server): void {
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const [status, code, message] = describe(err.code);
    const body = JSON.stringify({ error: { code, message, details: null } });
    socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  });
}
