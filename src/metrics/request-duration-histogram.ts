import type { Metric, Registry } from 'prom-client';

/** One series: a method, route pattern and status code's counts per bucket (not cumulative), sum and count. */
interface Series {
  labels: { method: string; route: string; status_code: number };
  counts: number[];
  sum: number;
  count: number;
}

/** A value as prom-client's registry formats it: `labels` of its own (le), the series' labels shared. */
interface ExportedValue {
  labels: Record<string, string | number>;
  sharedLabels: Record<string, string | number>;
  value: number;
  metricName: string;
}

/**
 * `http_request_duration_seconds{method, route, status_code}`, observed once per request.
 * prom-client's Histogram builds a label hash string on every observe and looks the series and
 * the bucket up under fresh string keys, ~1.2 us of every request under wrk (perf, liveness
 * route). Here a request finds its series through Maps keyed by the route pattern, the method
 * and the status code, and its bucket by index. The registry writes it exactly as it writes
 * prom-client's own histograms (a spec compares the two texts); the bucket rows are built at
 * scrape time.
 */
export class RequestDurationHistogram {
  readonly name = 'http_request_duration_seconds';
  readonly help = 'HTTP requests by method, route pattern and status code';
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly series = new Map<string, Map<string, Map<number, Series>>>();
  /** Every series in the order it was first observed: the order prom-client writes them in. */
  private readonly ordered: Series[] = [];

  constructor(
    private readonly upperBounds: readonly number[],
    registry: Registry,
  ) {
    registry.registerMetric(this as unknown as Metric);
  }

  observe(method: string, route: string, statusCode: number, seconds: number): void {
    if (!Number.isFinite(seconds)) return;
    let byMethod = this.series.get(route);
    if (byMethod === undefined) this.series.set(route, (byMethod = new Map<string, Map<number, Series>>()));
    let byStatus = byMethod.get(method);
    if (byStatus === undefined) byMethod.set(method, (byStatus = new Map<number, Series>()));
    let series = byStatus.get(statusCode);
    if (series === undefined) {
      series = { labels: { method, route, status_code: statusCode }, counts: this.upperBounds.map(() => 0), sum: 0, count: 0 };
      byStatus.set(statusCode, series);
      this.ordered.push(series);
    }
    const bounds = this.upperBounds;
    let bucket = 0;
    while (bucket < bounds.length && seconds > bounds[bucket]) bucket++;
    if (bucket < bounds.length) series.counts[bucket]++;
    series.sum += seconds;
    series.count++;
  }

  /** What the registry writes to /metrics (prom-client's own shape for a histogram). */
  getForPromString(): Promise<{ name: string; help: string; type: string; values: ExportedValue[]; aggregator: string }> {
    const values: ExportedValue[] = [];
    const bucketName = `${this.name}_bucket`;
    for (const { labels, counts, sum, count } of this.ordered) {
      let cumulative = 0;
      this.upperBounds.forEach((le, i) => {
        cumulative += counts[i];
        values.push({ labels: { le }, sharedLabels: labels, value: cumulative, metricName: bucketName });
      });
      values.push({ labels: { le: '+Inf' }, sharedLabels: labels, value: count, metricName: bucketName });
      values.push({ labels: {}, sharedLabels: labels, value: sum, metricName: `${this.name}_sum` });
      values.push({ labels: {}, sharedLabels: labels, value: count, metricName: `${this.name}_count` });
    }
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator });
  }

  /** The JSON form (registry.getMetricsAsJSON): each value's labels with the series' labels merged in. */
  async get(): Promise<{ name: string; help: string; type: string; values: Omit<ExportedValue, 'sharedLabels'>[]; aggregator: string }> {
    const exported = await this.getForPromString();
    return {
      ...exported,
      values: exported.values.map(({ labels, sharedLabels, value, metricName }) => ({
        labels: { ...labels, ...sharedLabels },
        value,
        metricName,
      })),
    };
  }
}
