import type { BenchTarget } from './bench-target';
import type { CrowdsResult } from './crowds-result';

export type { BenchTarget } from './bench-target';

/** What `npm run bench` measured: the `--json` output, the markdown table and the `--report` page all come from this. */
export interface ServiceRow {
  grantsPerSecond: number;
  p99Ms: number;
  p50Ms: number;
  lockBusyWhileStock: number;
  soldOutAnswersPerSecond: number | null;
  checksPassed: boolean;
  failedChecks: string[];
}

/** One stock/concurrency cell, measured on all four rows. */
export interface BenchRow {
  stock: number;
  concurrency: number;
  /** The service with CLAIM_BATCH_SIZE=1. */
  a: ServiceRow;
  /** The service as shipped. */
  b: ServiceRow;
  /** pgbench transactions per second on the bare claim transaction. */
  cTps: number;
  /** Requests per second of the constant NestJS + Fastify endpoint. */
  dRequestsPerSecond: number;
  /** Sold-out answers per second of the shipped service with CLAIM_FAST_PATH=false, same turn. */
  soldOutWithoutFastPath: number | null;
  /** The same with SOLD_OUT_READ_REUSE_MS=100 (a stock read reused for 100 ms), same turn. */
  soldOutReusingRead: number | null;
}

export interface BenchResult {
  startedAt: string;
  machine: string;
  users: number;
  pgbenchMaxClients: number;
  rows: BenchRow[];
  /** The crowd rows (bench/crowds.ts): concurrency sweep, many coupons, latency, per-request tax; their targets are also in `targets`. */
  crowds?: CrowdsResult;
  targets: BenchTarget[];
  passed: boolean;
}

/** "3.20x", or "-" when either side is missing. */
export const ratio = (a: number | null, b: number | null): string => (a === null || b === null || b === 0 ? '-' : `${(a / b).toFixed(2)}x`);

export function benchTargets(rows: BenchRow[]): BenchTarget[] {
  const targets: BenchTarget[] = [];
  for (const { stock, concurrency, a: ra, b: rb, cTps: rc, dRequestsPerSecond: rd } of rows) {
    const at = `stock ${stock}, concurrency ${concurrency}`;
    targets.push({
      name: `B >= 3 x A (${at})`,
      passed: rb.grantsPerSecond >= 3 * ra.grantsPerSecond,
      detail: ratio(rb.grantsPerSecond, ra.grantsPerSecond),
    });
    targets.push({ name: `B >= C (${at})`, passed: rb.grantsPerSecond >= rc, detail: ratio(rb.grantsPerSecond, rc) });
    targets.push({ name: `B p99 < A p99 (${at})`, passed: rb.p99Ms < ra.p99Ms, detail: `${rb.p99Ms} vs ${ra.p99Ms} ms` });
    if (concurrency === 256)
      targets.push({
        name: `B: no LOCK_BUSY while stock remains (${at})`,
        passed: rb.lockBusyWhileStock === 0,
        detail: String(rb.lockBusyWhileStock),
      });
    if (rb.soldOutAnswersPerSecond !== null) {
      targets.push({
        name: `sold-out answers >= 50% of D (${at})`,
        passed: rb.soldOutAnswersPerSecond >= 0.5 * rd,
        detail: ratio(rb.soldOutAnswersPerSecond, rd),
      });
    }
    targets.push({
      name: `zero oversell / double claims, A and B (${at})`,
      passed: ra.failedChecks.length === 0 && rb.failedChecks.length === 0,
      detail: [...ra.failedChecks, ...rb.failedChecks].join('; ') || 'all stress checks passed',
    });
  }
  return targets;
}

/** The markdown table of benchmarks.md and of the plain stdout. */
export function benchTable(rows: BenchRow[]): string {
  const header = [
    'stock',
    'conc',
    'A grants/s',
    'B grants/s',
    'C tps',
    'B/A',
    'B/C',
    'A p99 ms',
    'B p99 ms',
    'B LOCK_BUSY',
    'D req/s',
    'B sold-out ans/s',
    'sold-out/D',
    'no-hook ans/s',
    'no-hook/D',
    'reuse ans/s',
    'reuse/D',
    'checks A/B',
  ];
  const cells = rows.map(
    ({ stock, concurrency, a: ra, b: rb, cTps: rc, dRequestsPerSecond: rd, soldOutWithoutFastPath: rn, soldOutReusingRead: rr }) => [
      String(stock),
      String(concurrency),
      String(ra.grantsPerSecond),
      String(rb.grantsPerSecond),
      String(rc),
      ratio(rb.grantsPerSecond, ra.grantsPerSecond),
      ratio(rb.grantsPerSecond, rc),
      String(ra.p99Ms),
      String(rb.p99Ms),
      String(rb.lockBusyWhileStock),
      String(rd),
      String(rb.soldOutAnswersPerSecond ?? '-'),
      ratio(rb.soldOutAnswersPerSecond, rd),
      String(rn ?? '-'),
      ratio(rn, rd),
      String(rr ?? '-'),
      ratio(rr, rd),
      `${ra.failedChecks.length === 0 ? 'pass' : 'FAIL'}/${rb.failedChecks.length === 0 ? 'pass' : 'FAIL'}`,
    ],
  );
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i].length)));
  const line = (row: string[]) => `| ${row.map((cell, i) => cell.padEnd(widths[i])).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...cells.map(line)].join('\n');
}
