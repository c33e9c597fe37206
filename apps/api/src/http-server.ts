import { createServer, type RequestListener, type Server } from 'node:http';
import { jsonClientErrors } from './client-error.js';

/**
 * How long an idle keep-alive connection stays open. Node's default (5 s) is shorter than the idle
 * timeout of the load balancers put in front of an API (60 s on AWS ALB, nginx' upstream keepalive
 * 60 s): the server then closes a connection just as the balancer reuses it, and that request fails
 * (502, or `other side closed` in a client). Above 60 s, the balancer closes first.
 */
export const KEEP_ALIVE_TIMEOUT_MS = 65_000;

/** The API's HTTP server: keep-alive that outlasts a proxy's, and JSON for what Node's parser refuses. */
export function createHttpServer(handler: RequestListener): Server {
  const server = createServer(handler);
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  // must exceed keepAliveTimeout, or Node may cut a request arriving on a connection about to idle out
  server.headersTimeout = KEEP_ALIVE_TIMEOUT_MS + 1_000;
  jsonClientErrors(server);
  return server;
}
