import { SaleRun, TimelineBucket, outcomeOf } from './claim-runner';
import { CheckResult } from './check-result';

/** The shape of a sale: who races for how much, how hard, in which seeded order. */
export interface SaleShape {
  users: number;
  /** Total units of the sale, split over `coupons`. */
  stock: number;
  coupons: number;
  claimsPerUser: number;
  concurrency: number;
  doubleDip: number;
  seed: number;
}

export interface SaleReport {
  scenario: SaleShape & {
    targets: string[];
    selfHosted: boolean;
    coupon: string;
    userSeeding: string;
  };
  counts: { byStatus: Record<string, number>; byCode: Record<string, number>; requests: number };
  rates: {
    durationSeconds: number;
    claimsPerSecond: number;
    grantsPerSecondWhileStock: number | null;
    answersPerSecondWhileStock: number | null;
    answersPerSecondAfterSoldOut: number | null;
    secondsUntilSoldOut: number | null;
  };
  latencyMs: { p50: number; p90: number; p99: number; p999: number; max: number; mean: number };
  /** The final latency histogram: upper bound of each bucket in ms, and its count. */
  latencyHistogram: { upToMs: number; count: number }[];
  retryableRetries: Record<string, number>;
  timeline: TimelineBucket[];
  checks: CheckResult[];
  passed: boolean;
}

export function buildReport(run: SaleRun, scenario: SaleReport['scenario'], checks: CheckResult[]): SaleReport {
  const byStatus: Record<string, number> = {};
  const byCode: Record<string, number> = {};
  for (const record of run.records) {
    byStatus[String(record.status)] = (byStatus[String(record.status)] ?? 0) + 1;
    const outcome = outcomeOf(record);
    byCode[outcome] = (byCode[outcome] ?? 0) + 1;
  }
  const seconds = run.durationMs / 1000;
  const soldOut = run.soldOutAtMs;
  const answeredBeforeSoldOut = soldOut === null ? null : run.records.filter((r) => r.answeredAtMs <= soldOut).length;
  const granted = run.records.filter((r) => r.status === 200).length;
  const afterSoldOutSeconds = soldOut === null ? 0 : (run.durationMs - soldOut) / 1000;
  const h = run.latency;
  const ms = (micros: number) => Math.round(micros / 10) / 100;
  return {
    scenario,
    counts: { byStatus, byCode, requests: run.records.length },
    rates: {
      durationSeconds: round(seconds),
      claimsPerSecond: round(run.records.length / seconds),
      grantsPerSecondWhileStock: soldOut === null ? round(granted / seconds) : round(granted / (soldOut / 1000)),
      answersPerSecondWhileStock: soldOut === null ? null : round(answeredBeforeSoldOut! / (soldOut / 1000)),
      answersPerSecondAfterSoldOut:
        soldOut === null || afterSoldOutSeconds < 0.05 ? null : round((run.records.length - answeredBeforeSoldOut!) / afterSoldOutSeconds),
      secondsUntilSoldOut: soldOut === null ? null : round(soldOut / 1000),
    },
    latencyMs: {
      p50: ms(h.getValueAtPercentile(50)),
      p90: ms(h.getValueAtPercentile(90)),
      p99: ms(h.getValueAtPercentile(99)),
      p999: ms(h.getValueAtPercentile(99.9)),
      max: ms(h.maxValue),
      mean: ms(h.mean),
    },
    latencyHistogram: latencyBuckets(run),
    retryableRetries: run.retryableSeen,
    timeline: run.timeline,
    checks,
    passed: checks.every((c) => c.passed),
  };
}

function latencyBuckets(run: SaleRun): { upToMs: number; count: number }[] {
  const bounds = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 30000, Infinity];
  const counts = bounds.map(() => 0);
  for (const record of run.records) {
    if (record.status === 0 && record.latencyMs === 0) continue;
    counts[bounds.findIndex((b) => record.latencyMs <= b)]++;
  }
  return bounds.map((upToMs, i) => ({ upToMs: Number.isFinite(upToMs) ? upToMs : -1, count: counts[i] }));
}

const round = (n: number) => Math.round(n * 10) / 10;

function table(rows: string[][]): string {
  const widths = rows[0].map((_, col) => Math.max(...rows.map((r) => r[col].length)));
  return rows
    .map((r) =>
      r
        .map((cell, col) => cell.padEnd(widths[col]))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** The human-readable report. */
export function renderReport(report: SaleReport): string {
  const s = report.scenario;
  const lines: string[] = [];
  lines.push(
    `Flash-sale stress report: coupon ${s.coupon}${s.coupons > 1 ? ` (${s.coupons} coupons, ${s.claimsPerUser} claimed per user)` : ''}, ${s.users} users, stock ${s.stock}, concurrency ${s.concurrency}, double dip ${s.doubleDip}, seed ${s.seed}`,
  );
  lines.push(`Target: ${s.targets.join(', ')}${s.selfHosted ? ' (self-started)' : ''}; users made by ${s.userSeeding}`);
  lines.push('');
  lines.push(
    table([
      ['outcome', 'count'],
      ...Object.entries(report.counts.byCode)
        .sort((a, b) => b[1] - a[1])
        .map(([k, v]) => [k, String(v)]),
    ]),
  );
  lines.push('');
  lines.push(
    table([['HTTP status', 'count'], ...Object.entries(report.counts.byStatus).map(([k, v]) => [k === '0' ? 'no answer' : k, String(v)])]),
  );
  lines.push('');
  const r = report.rates;
  const l = report.latencyMs;
  lines.push(
    table([
      ['measure', 'value'],
      ['requests', String(report.counts.requests)],
      ['duration', `${r.durationSeconds} s`],
      ['claims/s overall', String(r.claimsPerSecond)],
      ['grants/s while stock remained', String(r.grantsPerSecondWhileStock ?? '-')],
      ['answers/s while stock remained', String(r.answersPerSecondWhileStock ?? '-')],
      ['answers/s after sold out', String(r.answersPerSecondAfterSoldOut ?? '-')],
      ['time until sold out', r.secondsUntilSoldOut === null ? 'not sold out' : `${r.secondsUntilSoldOut} s`],
      ['latency p50 / p90 / p99', `${l.p50} / ${l.p90} / ${l.p99} ms`],
      ['latency p99.9 / max', `${l.p999} / ${l.max} ms`],
      [
        'retryable 503s retried',
        Object.entries(report.retryableRetries)
          .map(([k, v]) => `${k} ${v}`)
          .join(', ') || '0',
      ],
    ]),
  );
  lines.push('');
  lines.push('Checks:');
  for (const c of report.checks) lines.push(`  ${c.passed ? 'PASS' : 'FAIL'}  ${c.name}: ${c.detail}`);
  lines.push('');
  const failed = report.checks.filter((c) => !c.passed);
  lines.push(
    failed.length === 0 ? 'RESULT: the sale held (every check passed)' : `RESULT: FAILED: ${failed.map((c) => c.name).join('; ')}`,
  );
  return lines.join('\n');
}
