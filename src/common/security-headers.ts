import type { FastifyInstance, FastifyReply } from 'fastify';
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

/** The security headers of a JSON answer, as [name, value] pairs (`helmet`: helmetHeaders(), if already run). */
export function apiResponseHeaders(helmet: Record<string, string> = helmetHeaders()): [string, string][] {
  return API_RESPONSE_HEADERS.map((name) => [name, API_HEADER_VALUES[name] ?? helmet[name]]);
}

/** A reply's headers as Fastify keeps them: lowercase name to value. */
type HeaderStore = Record<string, string>;

// eslint-disable-next-line @typescript-eslint/no-require-imports -- Fastify's symbols module is plain CommonJS without types
const fastifySymbols = require('fastify/lib/symbols') as { kReplyHeaders?: unknown };

/**
 * The key of the object Fastify keeps a reply's headers in until it writes them
 * (`kReplyHeaders`, which reply.header() writes to). Undefined if a Fastify release moves it:
 * the headers then go through reply.header() (a spec pins that this Fastify has it).
 */
export const REPLY_HEADERS: symbol | undefined =
  typeof fastifySymbols.kReplyHeaders === 'symbol' ? fastifySymbols.kReplyHeaders : undefined;

/** The reply's header object, or undefined where it cannot be found (then reply.header() is used). */
export function replyHeaderStore(reply: FastifyReply): HeaderStore | undefined {
  if (REPLY_HEADERS === undefined) return undefined;
  const store = (reply as unknown as Record<symbol, unknown>)[REPLY_HEADERS];
  return typeof store === 'object' && store !== null ? (store as HeaderStore) : undefined;
}

/**
 * Writes a JSON answer's security headers and its id into the reply's header object: what
 * reply.header() would store, without its per-call lowercasing (a new string, looked up in V8's
 * string table before it can be a key) and its one store site shared by every header name
 * (megamorphic). Each header is a statement of its own, so each store stays monomorphic. The
 * names are API_RESPONSE_HEADERS' (checked here once: a writer that drifts from the list stops
 * the start-up).
 */
function apiHeaderWriter(api: [string, string][]): (store: HeaderStore, requestId: string) => void {
  const value = Object.fromEntries(api);
  const csp = value['content-security-policy'];
  const corp = value['cross-origin-resource-policy'];
  const hsts = value['strict-transport-security'];
  const nosniff = value['x-content-type-options'];
  const frames = value['x-frame-options'];
  const write = (store: HeaderStore, requestId: string): void => {
    store['content-security-policy'] = csp;
    store['cross-origin-resource-policy'] = corp;
    store['strict-transport-security'] = hsts;
    store['x-content-type-options'] = nosniff;
    store['x-frame-options'] = frames;
    store['x-request-id'] = requestId;
  };
  const written: HeaderStore = {};
  write(written, 'id');
  if (JSON.stringify(Object.entries(written)) !== JSON.stringify([...api, ['x-request-id', 'id']])) {
    throw new Error('the security header writer does not write API_RESPONSE_HEADERS');
  }
  return write;
}

/**
 * Security headers and the request id (X-Request-Id, echoed for the caller; see
 * logging/request-logging.ts requestIdOf) on every answer, errors, 404s and load-shed refusals
 * included: an onRequest hook runs for all. The docs page and its assets (the only HTML) get
 * all of helmet's headers; every JSON answer gets API_RESPONSE_HEADERS (apiResponseHeaders),
 * written straight into the reply's header object (apiHeaderWriter). Each header still costs
 * every response Node's name and value checks: the seven document-only headers were ~9% of a
 * liveness probe's CPU under wrk (performance.md, "A lighter request path").
 */
export function addSecurityHeaders(fastify: FastifyInstance): void {
  // Name and value pairs in arrays: reply.headers(object) would list and look up the object's keys per request.
  const helmet = helmetHeaders();
  const page = Object.entries(helmet);
  const api = apiResponseHeaders(helmet);
  const writeApiHeaders = apiHeaderWriter(api);
  fastify.addHook('onRequest', (request, reply, done) => {
    const docs = request.url.startsWith(API_DOCS_PATH);
    const store = docs ? undefined : replyHeaderStore(reply);
    if (store !== undefined) {
      writeApiHeaders(store, request.id);
    } else {
      const headers = docs ? page : api;
      for (let i = 0; i < headers.length; i++) void reply.header(headers[i][0], headers[i][1]);
      void reply.header('x-request-id', request.id);
    }
    done();
  });
}
