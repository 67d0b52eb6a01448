import { Context, Span, SpanKind, SpanOptions, SpanStatusCode, Tracer, context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AlwaysOnSampler, BatchSpanProcessor, ParentBasedSampler, TracerProvider } from '@opentelemetry/sdk-trace';
import type { AppConfig } from '../config/app-config';

/**
 * OpenTelemetry for this process, on only when TRACING_OTLP_ENDPOINT is set: W3C trace context
 * in and out, spans kept in async-local storage, exported over OTLP/HTTP in batches. Off, none
 * of it is installed: `tracer` stays undefined and every helper here returns at its first line.
 */
let tracer: Tracer | undefined;
let provider: TracerProvider | undefined;

/** Spans wait at most this long before they are sent (or sooner, in batches of EXPORT_BATCH_SIZE). */
const EXPORT_DELAY_MS = 1000;
const EXPORT_BATCH_SIZE = 1024;
/** Spans queued for export past this are dropped, not buffered without bound (a collector away). */
const EXPORT_QUEUE_SIZE = 16384;

/** Starts tracing when configured (once per process; main.ts, before the app is built). */
export function startTracing(config: AppConfig): boolean {
  if (config.TRACING_OTLP_ENDPOINT === '' || tracer) return tracer !== undefined;
  const contextManager = new AsyncLocalStorageContextManager();
  context.setGlobalContextManager(contextManager.enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': config.TRACING_SERVICE_NAME }),
    // Only server spans start traces, and http-tracing.ts draws their sampling (sampleNewTrace)
    // before they reach the SDK: a root that reaches it is one to record. Every other span has a
    // recorded parent and follows it.
    sampler: new ParentBasedSampler({ root: new AlwaysOnSampler() }),
    spanProcessors: [
      new BatchSpanProcessor({
        exporter: new OTLPTraceExporter({ url: config.TRACING_OTLP_ENDPOINT }),
        scheduledDelayMillis: EXPORT_DELAY_MS,
        maxExportBatchSize: EXPORT_BATCH_SIZE,
        maxQueueSize: EXPORT_QUEUE_SIZE,
      }),
    ],
  });
  trace.setGlobalTracerProvider(provider);
  tracer = trace.getTracer('flash-sale-coupons');
  newTraceShare = config.TRACING_SAMPLE_PERCENT / 100;
  return true;
}

/** The share of new traces (requests without a caller's trace) that are recorded. */
let newTraceShare = 0;

/**
 * Whether to record a new trace: TRACING_SAMPLE_PERCENT of them, drawn at random. (The SDK's
 * TraceIdRatioBasedSampler draws from the trace id instead, which lets services that each start
 * the same trace agree; a trace starts here only once, and its descendants follow its flag.)
 */
export function sampleNewTrace(): boolean {
  return Math.random() < newTraceShare;
}

/** Sends the spans still queued (graceful shutdown). */
export async function flushTracing(): Promise<void> {
  await provider?.shutdown().catch(() => undefined);
}

export const tracingActive = (): boolean => tracer !== undefined;

/** The tracer, for the other files of this module; undefined when tracing is off. */
export const activeTracer = (): Tracer | undefined => tracer;

/**
 * The span of `ctx` if it is being recorded. A request the sampler left out still has a span
 * (its trace id is answered and logged) but records nothing, so nothing is started under it:
 * an unsampled request costs no child spans, no attributes, no export.
 */
export function recordingSpanIn(ctx: Context): Span | undefined {
  const span = trace.getSpan(ctx);
  return span?.isRecording() ? span : undefined;
}

/** The span of the current async context, if tracing is on and there is one. */
export function currentSpan(): Span | undefined {
  return tracer ? trace.getSpan(context.active()) : undefined;
}

/**
 * `work` inside a child span of the current one (none when tracing is off or nothing is being
 * traced: start-up queries, timers). The span ends when `work` settles, in error if it throws.
 */
export function withSpan<T>(
  name: string,
  attributes: SpanOptions['attributes'],
  work: () => Promise<T>,
  kind = SpanKind.INTERNAL,
): Promise<T> {
  if (!tracer) return work();
  const parent = context.active();
  if (!recordingSpanIn(parent)) return work();
  const span = tracer.startSpan(name, { kind, attributes }, parent);
  return context.with(trace.setSpan(parent, span), work).then(
    (result) => {
      span.end();
      return result;
    },
    (error: unknown) => {
      endWithError(span, error);
      throw error;
    },
  );
}

export function endWithError(span: Span, error: unknown): void {
  span.recordException(error instanceof Error ? error : String(error));
  span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
  span.end();
}

/** A remote parent from W3C headers (traceparent, tracestate); the root context when there is none or it is malformed. */
export function extractTraceContext(headers: Record<string, string | string[] | undefined>): Context {
  return propagation.extract(context.active(), headers);
}

/** pino's mixin while tracing is on: the trace and span of the line's async context, if any. */
export function traceLogFields(): { trace_id?: string; span_id?: string } {
  const span = currentSpan();
  if (!span) return {};
  const { traceId, spanId } = span.spanContext();
  return { trace_id: traceId, span_id: spanId };
}
