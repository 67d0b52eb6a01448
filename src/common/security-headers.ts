import type { FastifyInstance } from 'fastify';
import helmet from 'helmet';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { API_DOCS_PATH } from './openapi';

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
 * Helmet's headers that act on a response whatever its type: the set the OWASP REST Security
 * Cheat Sheet ("Security Headers") names for every API response. The
 * others (Cross-Origin-Opener-Policy, Origin-Agent-Cluster, Referrer-Policy,
 * X-DNS-Prefetch-Control, X-Download-Options, X-Permitted-Cross-Domain-Policies,
 * X-XSS-Protection) govern a document a browser renders and what it loads or links to.
 */
export const API_RESPONSE_HEADERS = [
  'content-security-policy',
  'cross-origin-resource-policy',
  'strict-transport-security',
  'x-content-type-options',
  'x-frame-options',
] as const;

/**
 * The values a JSON answer gets where the cheat sheet's differ from helmet's: helmet's policy is
 * written for an HTML page that loads its own scripts, styles and images (243 bytes); a JSON
 * answer loads nothing and is never framed, so it gets the cheat sheet's stricter
 * `default-src 'none'; frame-ancestors 'none'` and `DENY`. Shorter too: every byte of a header
 * is checked by Node, copied and sent with every answer (decisions.md).
 */
export const API_HEADER_VALUES: Readonly<Record<string, string>> = {
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
  'x-frame-options': 'DENY',
};

/** The security headers of a JSON answer, as [name, value] pairs. */
export function apiResponseHeaders(): [string, string][] {
  const helmet = helmetHeaders();
  return API_RESPONSE_HEADERS.map((name) => [name, API_HEADER_VALUES[name] ?? helmet[name]]);
}

/**
 * Security headers and the request id (X-Request-Id, echoed for the caller; see
 * logging/request-logging.ts requestIdOf) on every answer, errors, 404s and load-shed refusals
 * included: an onRequest hook runs for all. The docs page and its assets (the only HTML) get
 * all of helmet's headers; every JSON answer gets API_RESPONSE_HEADERS (apiResponseHeaders). Each header costs every
 * response a Fastify header call and Node's name and value checks: the seven document-only
 * headers were ~9% of a liveness probe's CPU under wrk (performance.md, "A lighter request path").
 */
export function addSecurityHeaders(fastify: FastifyInstance): void {
  // Name and value pairs in arrays: reply.headers(object) would list and look up the object's keys per request.
  const page = Object.entries(helmetHeaders());
  const api = apiResponseHeaders();
  fastify.addHook('onRequest', (request, reply, done) => {
    const headers = request.url.startsWith(API_DOCS_PATH) ? page : api;
    for (let i = 0; i < headers.length; i++) void reply.header(headers[i][0], headers[i][1]);
    void reply.header('x-request-id', request.id);
    done();
  });
}
