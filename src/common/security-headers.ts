import type { FastifyInstance } from 'fastify';
import helmet from 'helmet';
import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * Helmet's default headers, computed once by running helmet against a recording response.
 * They do not depend on the request, yet @fastify/helmet rebuilds helmet's whole middleware
 * chain for every request (measured: ~7% of the CPU of a sold-out claim). Helmet stays the
 * source of what the headers are; only the work is done once.
 */
export function helmetHeaders(): Record<string, string> {
  const headers: Record<string, string> = {};
  const recorder = {
    setHeader: (name: string, value: string | number | readonly string[]) => {
      headers[name.toLowerCase()] = String(value);
    },
    removeHeader: (name: string) => {
      delete headers[name.toLowerCase()];
    },
  };
  let finished = false;
  // No `upgrade-insecure-requests`: over plain HTTP at any address but loopback the browser
  // would fetch the docs page's own assets from https://, where nothing listens (a blank page).
  const policy = helmet({ contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } } });
  policy({} as IncomingMessage, recorder as unknown as ServerResponse, () => (finished = true));
  // Helmet's middleware is synchronous; if a future version is not, fail at start-up, not per request.
  if (!finished) throw new Error('helmet did not finish synchronously');
  return headers;
}

/**
 * Helmet's headers and the request id (X-Request-Id, echoed for the caller; see
 * logging/request-logging.ts requestIdOf) on every answer, errors, 404s and load-shed refusals
 * included: an onRequest hook runs for all. One hook for both, where there were two: each hook
 * is a turn of Fastify's hook runner on every request of every route.
 */
export function addSecurityHeaders(fastify: FastifyInstance): void {
  const headers = helmetHeaders();
  fastify.addHook('onRequest', (request, reply, done) => {
    void reply.headers(headers);
    void reply.header('x-request-id', request.id);
    done();
  });
}
