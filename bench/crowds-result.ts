import type { BenchTarget } from './bench-target';

/** One sale at a given number of requests in flight. */
export interface SweepRow {
  concurrency: number;
  grantsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  meanMs: number;
  /** Growth of the kernel's TcpExt ListenOverflows during the row (machine-wide). */
  listenOverflows: number;
  /** Highest resident memory of the API process seen during the row (sampled every 100 ms). */
  apiPeakRssMb: number;
  soldOutAnswersPerSecond: number | null;
  failedChecks: string[];
}

export interface ManyCouponsRow {
  coupons: number;
  stock: number;
  grantsPerSecond: number;
  p99Ms: number;
  couponsSoldOut: number;
  failedChecks: string[];
}

/** A (CLAIM_BATCH_SIZE=1) or B (as shipped) with PostgreSQL and Redis `delayMs` away each way. */
export interface LatencyRow {
  variant: 'A' | 'B';
  delayMs: number;
  stock: number;
  grantsPerSecond: number;
  p99Ms: number;
  failedChecks: string[];
}

/** One turn of GET /api/healthcheck/live: the bare NestJS + Fastify app, then the service (or the other way round). */
export interface TaxTurn {
  bareRequestsPerSecond: number;
  serviceRequestsPerSecond: number;
  failed: number;
}

export interface CrowdsResult {
  users: number;
  stock: number;
  latencyUsers: number;
  latencyStock: number;
  sweep: SweepRow[];
  manyCoupons: ManyCouponsRow[];
  latency: LatencyRow[];
  tax: TaxTurn[];
  targets: BenchTarget[];
}

const ratio = (a: number, b: number) => (b === 0 ? 0 : a / b);
const mean = (values: number[]) => values.reduce((sum, v) => sum + v, 0) / Math.max(1, values.length);
const x = (value: number) => `${value.toFixed(2)}x`;

/** The turn with the median service/bare ratio: both numbers of a ratio from one moment of this shared machine. */
export function medianTaxTurn(turns: TaxTurn[]): TaxTurn {
  const sorted = [...turns].sort(
    (a, b) => ratio(a.serviceRequestsPerSecond, a.bareRequestsPerSecond) - ratio(b.serviceRequestsPerSecond, b.bareRequestsPerSecond),
  );
  return sorted[Math.floor(sorted.length / 2)];
}

export function crowdsTargets(result: Omit<CrowdsResult, 'targets'>): BenchTarget[] {
  const targets: BenchTarget[] = [];
  // Each concurrency runs twice (the sweep up, then down): the ratio compares the means, and the
  // overflow and fairness targets hold in every run.
  const base = result.sweep.filter((r) => r.concurrency === 64);
  const top = result.sweep.filter((r) => r.concurrency === 4096);
  if (base.length > 0 && top.length > 0) {
    const runs = (rows: SweepRow[], value: (r: SweepRow) => string) => rows.map(value).join(', ');
    targets.push({
      name: 'sweep 4096 in flight: 0 listen overflows',
      passed: top.every((r) => r.listenOverflows === 0),
      detail: runs(top, (r) => String(r.listenOverflows)),
    });
    targets.push({
      name: 'sweep 4096 in flight: p99 <= 2.5 x mean latency',
      passed: top.every((r) => r.p99Ms <= 2.5 * r.meanMs),
      detail: runs(top, (r) => `p99 ${r.p99Ms} ms, mean ${r.meanMs} ms (${x(ratio(r.p99Ms, r.meanMs))})`),
    });
    const topRate = mean(top.map((r) => r.grantsPerSecond));
    const baseRate = mean(base.map((r) => r.grantsPerSecond));
    targets.push({
      name: 'sweep 4096 in flight: grants/s >= 0.8 x at 64',
      passed: topRate >= 0.8 * baseRate,
      detail: `${x(ratio(topRate, baseRate))} (means of ${top.length} and ${base.length} runs: ${runs(top, (r) => String(r.grantsPerSecond))} vs ${runs(base, (r) => String(r.grantsPerSecond))})`,
    });
  }
  const failedSweep = result.sweep.filter((r) => r.failedChecks.length > 0);
  targets.push({
    name: 'sweep: every stress check passes',
    passed: failedSweep.length === 0,
    detail: failedSweep.map((r) => `${r.concurrency}: ${r.failedChecks.join('; ')}`).join(' / ') || 'all passed',
  });

  const one = result.manyCoupons.filter((r) => r.coupons === 1);
  const many = result.manyCoupons.filter((r) => r.coupons > 1);
  if (one.length > 0 && many.length > 0) {
    const manyRate = mean(many.map((r) => r.grantsPerSecond));
    const oneRate = mean(one.map((r) => r.grantsPerSecond));
    targets.push({
      name: `${many[0].coupons} coupons: grants/s >= 0.8 x one coupon of the same stock`,
      passed: manyRate >= 0.8 * oneRate,
      detail: `${x(ratio(manyRate, oneRate))} (means of ${many.length} and ${one.length} runs)`,
    });
    const starved = many.filter((r) => r.couponsSoldOut < r.coupons);
    const failed = result.manyCoupons.filter((r) => r.failedChecks.length > 0);
    targets.push({
      name: `${many[0].coupons} coupons: every coupon sells out, every check passes`,
      passed: starved.length === 0 && failed.length === 0,
      detail:
        [...starved.map((r) => `${r.couponsSoldOut}/${r.coupons} sold out`), ...failed.map((r) => r.failedChecks.join('; '))].join(' / ') ||
        'all sold out, all passed',
    });
  }

  const at = (variant: 'A' | 'B', delayMs: number) => result.latency.find((r) => r.variant === variant && r.delayMs === delayMs);
  const b0 = at('B', 0);
  const b1 = at('B', 1);
  if (b0 && b1)
    targets.push({
      name: 'latency: B at 1 ms each way >= 0.7 x B at 0 ms',
      passed: b1.grantsPerSecond >= 0.7 * b0.grantsPerSecond,
      detail: x(ratio(b1.grantsPerSecond, b0.grantsPerSecond)),
    });
  const failedLatency = result.latency.filter((r) => r.failedChecks.length > 0);
  targets.push({
    name: 'latency rows: every stress check passes',
    passed: failedLatency.length === 0,
    detail: failedLatency.map((r) => `${r.variant} ${r.delayMs} ms: ${r.failedChecks.join('; ')}`).join(' / ') || 'all passed',
  });

  if (result.tax.length > 0) {
    const turn = medianTaxTurn(result.tax);
    targets.push({
      name: 'per-request tax: service liveness >= 0.7 x bare NestJS + Fastify',
      passed: turn.serviceRequestsPerSecond >= 0.7 * turn.bareRequestsPerSecond && result.tax.every((t) => t.failed === 0),
      detail: `${x(ratio(turn.serviceRequestsPerSecond, turn.bareRequestsPerSecond))} (median of ${result.tax.length} turns)`,
    });
  }
  return targets;
}

function markdownTable(header: string[], cells: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i].length)));
  const line = (row: string[]) => `| ${row.map((cell, i) => cell.padEnd(widths[i])).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...cells.map(line)].join('\n');
}

const checks = (failed: string[]) => (failed.length === 0 ? 'pass' : 'FAIL');

/** The markdown tables of the crowd rows (benchmarks.md and stdout). */
export function crowdsTables(result: CrowdsResult): string {
  const sweep = markdownTable(
    [
      'in flight',
      'grants/s',
      'p50 ms',
      'p99 ms',
      'max ms',
      'mean ms',
      'p99/mean',
      'listen overflows',
      'API peak RSS MB',
      'sold-out ans/s',
      'checks',
    ],
    result.sweep.map((r) => [
      String(r.concurrency),
      String(r.grantsPerSecond),
      String(r.p50Ms),
      String(r.p99Ms),
      String(r.maxMs),
      String(r.meanMs),
      x(ratio(r.p99Ms, r.meanMs)),
      String(r.listenOverflows),
      String(r.apiPeakRssMb),
      String(r.soldOutAnswersPerSecond ?? '-'),
      checks(r.failedChecks),
    ]),
  );
  const many = markdownTable(
    ['coupons', 'total stock', 'grants/s', 'p99 ms', 'coupons sold out', 'checks'],
    result.manyCoupons.map((r) => [
      String(r.coupons),
      String(r.stock),
      String(r.grantsPerSecond),
      String(r.p99Ms),
      `${r.couponsSoldOut}/${r.coupons}`,
      checks(r.failedChecks),
    ]),
  );
  const latency = markdownTable(
    ['variant', 'delay each way', 'stock', 'grants/s', 'p99 ms', 'vs 0 ms', 'checks'],
    result.latency.map((r) => {
      const zero = result.latency.find((z) => z.variant === r.variant && z.delayMs === 0);
      return [
        r.variant === 'A' ? 'A (batch 1)' : 'B (shipped)',
        `${r.delayMs} ms`,
        String(r.stock),
        String(r.grantsPerSecond),
        String(r.p99Ms),
        zero ? x(ratio(r.grantsPerSecond, zero.grantsPerSecond)) : '-',
        checks(r.failedChecks),
      ];
    }),
  );
  const tax = markdownTable(
    ['turn', 'bare req/s', 'service req/s', 'service/bare'],
    result.tax.map((t, i) => [
      String(i + 1),
      String(t.bareRequestsPerSecond),
      String(t.serviceRequestsPerSecond),
      x(ratio(t.serviceRequestsPerSecond, t.bareRequestsPerSecond)),
    ]),
  );
  return [
    `### Concurrency sweep (${result.users} users, stock ${result.stock}, one sale per row, the sweep run up and then down; targets compare the means)`,
    '',
    sweep,
    '',
    `### Many coupons (${result.users} users, total stock ${result.stock}, 256 in flight)`,
    '',
    many,
    '',
    `### PostgreSQL and Redis one hop away (${result.latencyUsers} users, 256 in flight)`,
    '',
    latency,
    '',
    '### Per-request tax: GET /api/healthcheck/live, bare NestJS + Fastify vs the service at LOG_LEVEL=info',
    '',
    tax,
  ].join('\n');
}
