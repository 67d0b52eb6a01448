import { Context, Span, context, trace } from '@opentelemetry/api';
import { activeTracer, endWithError, recordingSpanIn } from './tracing';

/**
 * The spans of the claim path that one request cannot own alone. A claim waits in ClaimBatcher's
 * queue (`claim.queue_wait`, child of its request's span), then many claims settle together in
 * one batch: `claim.batch` is a child of the batch's oldest traced claim and links to every
 * claim's queue-wait span, so each request's trace reaches the lock and the transaction its claim
 * shared (decisions.md, "A batch's spans and the many requests in it").
 */
export interface QueueWait {
  span: Span;
  /** The request's context when it joined the queue: the batch span's parent if it is the oldest. */
  parent: Context;
}

/** At most this many claims are linked from one batch span (CLAIM_BATCH_SIZE is 200 by default). */
const MAX_BATCH_LINKS = 1000;

/** A claim joins the queue: its wait span starts, if its request is being traced. */
export function startQueueWait(coupon: string): QueueWait | undefined {
  const tracer = activeTracer();
  if (!tracer) return undefined;
  const parent = context.active();
  if (!recordingSpanIn(parent)) return undefined;
  return { span: tracer.startSpan('claim.queue_wait', { attributes: { 'claim.coupon': coupon } }, parent), parent };
}

/** The claim left the queue: taken into a batch, or (with `error`) given up. */
export function endQueueWait(wait: QueueWait | undefined, error?: unknown): void {
  if (!wait) return;
  if (error === undefined) wait.span.end();
  else endWithError(wait.span, error);
}

export interface BatchSpan {
  /** Runs `work` (the settlement) with the batch span as its context: lock and transaction spans become its children. */
  run<T>(work: () => T): T;
  end(): void;
}

const UNTRACED_BATCH: BatchSpan = { run: (work) => work(), end: () => undefined };

/**
 * A batch none of whose claims is recorded runs outside any request's span: it started in the
 * context of whatever request queued it (or of the batch before it), which may be a sampled
 * request of another coupon, and its lock, transaction and statements must not land in that trace.
 */
const UNSAMPLED_BATCH: BatchSpan = { run: (work) => context.with(trace.deleteSpan(context.active()), work), end: () => undefined };

/** The span of one batch, for the claims taken into it (their queue waits, in arrival order; listed only when tracing is on). */
export function startBatchSpan(listWaits: () => (QueueWait | undefined)[], coupons: number): BatchSpan {
  const tracer = activeTracer();
  if (!tracer) return UNTRACED_BATCH;
  const waits = listWaits();
  const traced = waits.filter((wait): wait is QueueWait => wait !== undefined);
  if (traced.length === 0) return UNSAMPLED_BATCH;
  const parent = traced[0].parent;
  const span = tracer.startSpan(
    'claim.batch',
    {
      attributes: { 'claim.batch.size': waits.length, 'claim.batch.coupons': coupons },
      links: traced.slice(0, MAX_BATCH_LINKS).map((wait) => ({ context: wait.span.spanContext() })),
    },
    parent,
  );
  const active = trace.setSpan(parent, span);
  return { run: (work) => context.with(active, work), end: () => span.end() };
}
