import { context, trace } from '@opentelemetry/api';
import type { AppConfig } from '../config/app-config';
import { startBatchSpan, startQueueWait } from './claim-spans';
import { currentSpan, flushTracing, startTracing } from './tracing';

/**
 * The batch span's context, with the real OpenTelemetry SDK (exporting nowhere: nothing listens
 * on port 1). A batch runs in the context of whatever queued it, which may be another coupon's
 * sampled request: a batch without a recorded claim must not leave its spans in that trace.
 */
describe('claim batch spans', () => {
  beforeAll(() => {
    startTracing({
      TRACING_OTLP_ENDPOINT: 'http://127.0.0.1:1/v1/traces',
      TRACING_SERVICE_NAME: 'spec',
      TRACING_SAMPLE_PERCENT: 100,
    } as AppConfig);
  });
  afterAll(() => flushTracing());

  /** Runs `work` inside a recorded request span, as a sampled request's code does. */
  const inRequest = <T>(work: () => T): T => {
    const request = trace.getTracer('spec').startSpan('POST /api/coupons/claim');
    return context.with(trace.setSpan(context.active(), request), work);
  };

  it('a batch of unrecorded claims runs outside the span of the request that queued it', () => {
    const seen = inRequest(() => startBatchSpan(() => [undefined, undefined], 1).run(() => currentSpan()));
    expect(seen).toBeUndefined();
  });

  it('a batch with a recorded claim runs in its own claim.batch span', () => {
    const seen = inRequest(() => {
      const wait = startQueueWait('FLASH50');
      return startBatchSpan(() => [undefined, wait], 1).run(() => currentSpan());
    });
    expect(seen?.isRecording()).toBe(true);
    expect((seen as unknown as { name: string }).name).toBe('claim.batch');
  });
});
