import { Context, Span, SpanKind, SpanStatusCode, context, propagation, trace } from '@opentelemetry/api';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { activeTracer, extractTraceContext } from './tracing';

/**
 * Each request being answered: its server span (the request line of the log reads its trace id)
 * and the context it runs in (that span, child of the caller's trace).
 */
const served = new WeakMap<IncomingMessage, { span: Span; active: Context }>();

type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * Puts every request of `server` inside a SERVER span, child of the caller's `traceparent` when
 * it sent a valid one, and answers with that span's own `traceparent`. The span is the active
 * context for everything the request does (Fastify hooks, Nest, the claim queue); what runs
 * after the body arrives gets it back from resumeServerContext. The span ends when the response is finished or the connection closes.
 */
export function traceHttpServer(server: Server): void {
  const tracer = activeTracer();
  if (!tracer) return;
  const listeners = server.listeners('request') as RequestListener[];
  server.removeAllListeners('request');
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const parent = extractTraceContext(req.headers);
    const span = tracer.startSpan(
      req.method ?? 'HTTP',
      { kind: SpanKind.SERVER, attributes: { 'http.request.method': req.method, 'url.path': req.url?.split('?')[0] } },
      parent,
    );
    const active = trace.setSpan(parent, span);
    served.set(req, { span, active });
    const carrier: Record<string, string> = {};
    propagation.inject(active, carrier);
    if (carrier.traceparent) res.setHeader('traceparent', carrier.traceparent);
    // A span the sampler left out records nothing: no status to set, nothing to end.
    if (span.isRecording()) {
      const end = () => {
        res.removeListener('finish', end);
        res.removeListener('close', end);
        span.setAttribute('http.response.status_code', res.statusCode);
        if (res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
        if (!res.writableFinished) span.setAttribute('http.response.aborted', true);
        span.end();
      };
      res.once('finish', end);
      res.once('close', end);
    }
    context.with(active, () => listeners.forEach((listener) => listener.call(server, req, res)));
  });
}

/**
 * The server span's context again, for the part of a request that a stream event resumes: a
 * body arrives in 'data' and 'end' events, which run in the socket's context, not the request's.
 * Fastify calls its preValidation hooks right after the body is read (at once when there is
 * none), so a hook there re-enters the request's context for validation, the handler and all
 * they start. (Binding the request and response emitters instead wrapped every listener of
 * every request: measured in the tracing bench row.)
 */
export function resumeServerContext(req: IncomingMessage, next: () => void): void {
  const active = served.get(req)?.active;
  if (active) context.with(active, next);
  else next();
}

/** Names the server span by its route pattern once the router has matched it (`POST /api/coupons/claim`). */
export function nameServerSpan(req: IncomingMessage, route: string | undefined): void {
  const span = served.get(req)?.span;
  if (!span || !route) return;
  span.updateName(`${req.method} ${route}`);
  span.setAttribute('http.route', route);
}

/** `00-<trace id>-<span id>-<flags>`: the only version this service reads without the SDK. */
const TRACEPARENT = /^[\da-f]{2}-([\da-f]{32})-[\da-f]{16}-[\da-f]{2}$/;

/**
 * The trace id of a request for its log lines: its server span's when tracing is on, else the
 * caller's `traceparent` (so logs of a traced caller still join its trace), else none.
 */
export function traceIdOf(req: IncomingMessage): string | undefined {
  const span = served.get(req)?.span;
  if (span) return span.spanContext().traceId;
  const given = req.headers.traceparent;
  if (typeof given !== 'string') return undefined;
  const match = TRACEPARENT.exec(given);
  return match && match[1] !== '0'.repeat(32) ? match[1] : undefined;
}
