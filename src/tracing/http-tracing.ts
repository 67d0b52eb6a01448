import {
  Context,
  Span,
  SpanKind,
  SpanStatusCode,
  TraceFlags,
  Tracer,
  context,
  isSpanContextValid,
  propagation,
  trace,
} from '@opentelemetry/api';
import { RandomIdGenerator } from '@opentelemetry/sdk-trace';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { activeTracer, extractTraceContext, sampleNewTrace } from './tracing';

/** Each request being answered: its server span (the request line of the log reads its trace id). */
const served = new WeakMap<IncomingMessage, Span>();

type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * Puts every request of `server` inside a SERVER span, child of the caller's `traceparent` when
 * it sent a valid one, and answers with that span's own `traceparent`. The span is the active
 * context for everything the request does (Fastify hooks, Nest, the claim queue), the part after
 * its body arrives included: Fastify 5.12 runs its body parser's callback in the request's async
 * scope (decisions.md, "The JSON body-reading copy is gone"), so no emitter is bound here. The
 * span ends when the response is finished or the connection closes.
 */
export function traceHttpServer(server: Server): void {
  const tracer = activeTracer();
  if (!tracer) return;
  const listeners = server.listeners('request') as RequestListener[];
  server.removeAllListeners('request');
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const parent = extractTraceContext(req.headers);
    const span = serverSpan(tracer, req, parent);
    const active = trace.setSpan(parent, span);
    served.set(req, span);
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

const ids = new RandomIdGenerator();

/**
 * The server span of a request. For a span that records nothing the SDK's startSpan still
 * sanitises its attributes, runs the sampler and its own span metrics: ~8 us of a claim's CPU
 * under load (perf), nine requests in ten at the default sampling. The two cases that record
 * nothing get a bare span context here instead: a caller's trace the caller did not sample (its
 * flag is followed, as ParentBasedSampler does), and a new trace this process does not sample.
 * Everything else is started by the SDK, whose root sampler records what reaches it (tracing.ts).
 */
function serverSpan(tracer: Tracer, req: IncomingMessage, parent: Context): Span {
  const caller = trace.getSpanContext(parent);
  const fromCaller = caller !== undefined && isSpanContextValid(caller);
  const sampled = fromCaller ? (caller.traceFlags & TraceFlags.SAMPLED) !== 0 : sampleNewTrace();
  if (!sampled) {
    return trace.wrapSpanContext({
      traceId: fromCaller ? caller.traceId : ids.generateTraceId(),
      spanId: ids.generateSpanId(),
      traceFlags: TraceFlags.NONE,
      traceState: fromCaller ? caller.traceState : undefined,
    });
  }
  return tracer.startSpan(
    req.method ?? 'HTTP',
    { kind: SpanKind.SERVER, attributes: { 'http.request.method': req.method, 'url.path': req.url?.split('?')[0] } },
    parent,
  );
}

/** Names the server span by its route pattern once the router has matched it (`POST /api/coupons/claim`). */
export function nameServerSpan(req: IncomingMessage, route: string | undefined): void {
  const span = served.get(req);
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
  const span = served.get(req);
  if (span) return span.spanContext().traceId;
  const given = req.headers.traceparent;
  if (typeof given !== 'string') return undefined;
  const match = TRACEPARENT.exec(given);
  return match && match[1] !== '0'.repeat(32) ? match[1] : undefined;
}
