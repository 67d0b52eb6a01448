import { Histogram, Registry } from 'prom-client';
import { HTTP_DURATION_BUCKETS } from './metrics.service';
import { RequestDurationHistogram } from './request-duration-histogram';

/** prom-client's own histogram with the same name, labels and buckets, in a registry of its own. */
function reference() {
  const registry = new Registry();
  const histogram = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP requests by method, route pattern and status code',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: HTTP_DURATION_BUCKETS,
    registers: [registry],
  });
  return {
    registry,
    observe: (m: string, r: string, s: number, v: number) => histogram.observe({ method: m, route: r, status_code: s }, v),
  };
}

function ours() {
  const registry = new Registry();
  const histogram = new RequestDurationHistogram(HTTP_DURATION_BUCKETS, registry);
  return { registry, observe: (m: string, r: string, s: number, v: number) => histogram.observe(m, r, s, v) };
}

describe('RequestDurationHistogram (http_request_duration_seconds without prom-client s per-observe hashing)', () => {
  it('is written to /metrics exactly as prom-client writes the same observations', async () => {
    const a = reference();
    const b = ours();
    // Series interleaved, values on and between bucket bounds, beyond the last bound, and a route
    // whose pattern needs escaping in the exposition format.
    const observations: [string, string, number, number][] = [
      ['GET', '/api/healthcheck/live', 200, 0.0004],
      ['POST', '/api/coupons/claim', 200, 0.005],
      ['GET', '/api/healthcheck/live', 200, 0.0051],
      ['POST', '/api/coupons/claim', 409, 0.3],
      ['GET', 'unmatched', 404, 12],
      ['POST', '/api/coupons/claim', 200, 2.5],
      ['GET', '/api/"odd"\\route\n', 200, 1],
      ['POST', '/api/coupons/claim', 503, 10],
      ['GET', '/api/healthcheck/live', 200, 0.1],
    ];
    for (const [m, r, s, v] of observations) {
      a.observe(m, r, s, v);
      b.observe(m, r, s, v);
    }
    const text = await b.registry.metrics();
    expect(text).toBe(await a.registry.metrics());
    expect(text).toContain('http_request_duration_seconds_bucket{le="0.005",method="POST",route="/api/coupons/claim",status_code="200"} 1');
    expect(text).toContain('http_request_duration_seconds_count{method="GET",route="/api/healthcheck/live",status_code="200"} 3');
  });

  it('gives the JSON form the same labels and values as prom-client', async () => {
    const a = reference();
    const b = ours();
    for (const x of [a, b]) {
      x.observe('GET', '/a', 200, 0.02);
      x.observe('GET', '/a', 500, 7);
    }
    const strip = (json: { values: { labels: object; value: number; metricName?: string }[] }[]) =>
      json.map((metric) => metric.values.map(({ labels, value, metricName }) => ({ labels, value, metricName })));
    expect(strip(await b.registry.getMetricsAsJSON())).toEqual(strip(await a.registry.getMetricsAsJSON()));
  });

  it('ignores a duration that is not a finite number instead of corrupting the sum', async () => {
    const b = ours();
    b.observe('GET', '/a', 200, Number.NaN);
    b.observe('GET', '/a', 200, 0.2);
    expect(await b.registry.metrics()).toContain('http_request_duration_seconds_sum{method="GET",route="/a",status_code="200"} 0.2');
  });
});
