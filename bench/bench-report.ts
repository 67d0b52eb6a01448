import { ReportKit, renderHtmlReport } from '../harness/html-report';
import type { BenchResult } from './bench-result';

/** The benchmark's page: `npm run bench -- --report PATH.html`. */
export function renderBenchReport(result: BenchResult): string {
  return renderHtmlReport({
    title: `Benchmark report: ${result.startedAt}`,
    kind: 'bench',
    data: result,
    draw: drawBenchReport,
    helpers: [ratioBars, timesText, drawServiceRows, drawCrowdRows],
  });
}

/** Page function: the benchmark (a BenchResult). */
function drawBenchReport(kit: ReportKit, data: any): void {
  kit.summary(`${data.users} users per sale; ${data.machine}; run ${data.startedAt}.`);
  drawServiceRows(kit, data.rows);
  if (data.crowds) drawCrowdRows(kit, data.crowds);
  kit.checkList('Targets', data.targets);
}

/** Page function: "a/b" as "1.23x", or '' when either side is missing. */
function timesText(a: number | null, b: number | null): string {
  return a === null || b === null || b === 0 ? '' : `${(a / b).toFixed(2)}x`;
}

/** Page function: a bar chart with each dataset's `ratios` written above its bars (headroom left for them). */
function ratioBars(kit: ReportKit, id: string, title: string, unit: string, labels: string[], datasets: any[], wide = false): void {
  const ratioLabels = {
    id: 'ratioLabels',
    afterDatasetsDraw(c: any) {
      const ctx = c.ctx;
      ctx.save();
      ctx.font = 'bold 11px system-ui, sans-serif';
      ctx.fillStyle = '#1d2430';
      ctx.textAlign = 'center';
      c.data.datasets.forEach((set: any, i: number) => {
        if (!set.ratios || !c.isDatasetVisible(i)) return;
        c.getDatasetMeta(i).data.forEach((bar: any, j: number) => {
          const lines = String(set.ratios[j] ?? '')
            .split('\n')
            .filter(Boolean);
          lines.forEach((line: string, k: number) => ctx.fillText(line, bar.x, bar.y - 6 - (lines.length - 1 - k) * 13));
        });
      });
      ctx.restore();
    },
  };
  kit.chart(
    id,
    title,
    {
      type: 'bar',
      data: { labels, datasets },
      options: { scales: { y: { beginAtZero: true, grace: '18%', ...kit.axis(unit) } } },
      plugins: [ratioLabels],
    },
    wide,
  );
}

/** Page function: rows A, B, C and D, one group of bars per stock/concurrency cell, ratios on the bars. */
function drawServiceRows(kit: ReportKit, rows: any[]): void {
  const { colors } = kit;
  const times = timesText;
  const labels = rows.map((row) => `stock ${row.stock} / conc ${row.concurrency}`);
  ratioBars(
    kit,
    'bench-throughput',
    'Claims granted per second: A (batch 1), B (as shipped), C (pgbench ceiling); D: HTTP ceiling',
    'per second',
    labels,
    [
      { label: 'A grants/s', backgroundColor: colors.soldOut, data: rows.map((row) => row.a.grantsPerSecond) },
      {
        label: 'B grants/s',
        backgroundColor: colors.granted,
        data: rows.map((row) => row.b.grantsPerSecond),
        ratios: rows.map(
          (row) => `B/A ${times(row.b.grantsPerSecond, row.a.grantsPerSecond)}\nB/C ${times(row.b.grantsPerSecond, row.cTps)}`,
        ),
      },
      { label: 'C tps', backgroundColor: colors.already, data: rows.map((row) => row.cTps) },
      { label: 'D req/s', backgroundColor: colors.busy, data: rows.map((row) => row.dRequestsPerSecond) },
    ],
    true,
  );
  ratioBars(kit, 'bench-latency', 'Claim latency p99 (ms): A vs B', 'ms', labels, [
    { label: 'A p99 ms', backgroundColor: colors.soldOut, data: rows.map((row) => row.a.p99Ms) },
    {
      label: 'B p99 ms',
      backgroundColor: colors.granted,
      data: rows.map((row) => row.b.p99Ms),
      ratios: rows.map((row) => `A/B ${times(row.a.p99Ms, row.b.p99Ms)}`),
    },
  ]);
  ratioBars(
    kit,
    'bench-sold-out',
    'Answers per second after the sell-out: B, B without the fast path, B reusing a read, D (no such pass when stock = users)',
    'per second',
    labels,
    [
      {
        label: 'B sold-out answers/s',
        backgroundColor: colors.granted,
        data: rows.map((row) => row.b.soldOutAnswersPerSecond),
        ratios: rows.map((row) =>
          row.b.soldOutAnswersPerSecond === null ? '' : `B/D ${times(row.b.soldOutAnswersPerSecond, row.dRequestsPerSecond)}`,
        ),
      },
      {
        label: 'no fast path answers/s',
        backgroundColor: colors.already,
        data: rows.map((row) => row.soldOutWithoutFastPath),
        ratios: rows.map((row) =>
          row.soldOutWithoutFastPath === null ? '' : `/D ${times(row.soldOutWithoutFastPath, row.dRequestsPerSecond)}`,
        ),
      },
      {
        label: 'read reused 100 ms answers/s',
        backgroundColor: colors.soldOut,
        data: rows.map((row) => row.soldOutReusingRead),
        ratios: rows.map((row) => (row.soldOutReusingRead === null ? '' : `/D ${times(row.soldOutReusingRead, row.dRequestsPerSecond)}`)),
      },
      { label: 'D req/s', backgroundColor: colors.busy, data: rows.map((row) => row.dRequestsPerSecond) },
    ],
  );
}

/** Page function: the crowd rows (concurrency sweep, many coupons, one hop away, per-request tax). */
function drawCrowdRows(kit: ReportKit, crowds: any): void {
  const { colors } = kit;
  const times = timesText;
  const sweep: any[] = crowds.sweep;
  const sweepLabels = sweep.map((r) => `${r.concurrency} in flight`);
  ratioBars(kit, 'crowd-sweep-throughput', 'Concurrency sweep: grants/s and sold-out answers/s', 'per second', sweepLabels, [
    {
      label: 'grants/s',
      backgroundColor: colors.granted,
      data: sweep.map((r) => r.grantsPerSecond),
      ratios: sweep.map((r) => `vs 64: ${times(r.grantsPerSecond, sweep[0].grantsPerSecond)}`),
    },
    { label: 'sold-out answers/s', backgroundColor: colors.soldOut, data: sweep.map((r) => r.soldOutAnswersPerSecond) },
  ]);
  ratioBars(kit, 'crowd-sweep-latency', 'Concurrency sweep: latency (ms) and listen overflows', 'ms', sweepLabels, [
    { label: 'p50 ms', backgroundColor: colors.p50, data: sweep.map((r) => r.p50Ms) },
    { label: 'mean ms', backgroundColor: '#8250df', data: sweep.map((r) => r.meanMs) },
    {
      label: 'p99 ms',
      backgroundColor: colors.p99,
      data: sweep.map((r) => r.p99Ms),
      ratios: sweep.map((r) => `p99/mean ${times(r.p99Ms, r.meanMs)}\noverflows ${r.listenOverflows}`),
    },
    { label: 'max ms', backgroundColor: colors.busy, data: sweep.map((r) => r.maxMs) },
  ]);
  const many: any[] = crowds.manyCoupons;
  ratioBars(
    kit,
    'crowd-many-coupons',
    'One coupon vs many, same total stock: grants/s',
    'per second',
    many.map((r, i) => `${r.coupons} coupon${r.coupons > 1 ? 's' : ''} (run ${i + 1})`),
    [
      {
        label: 'grants/s',
        backgroundColor: colors.granted,
        data: many.map((r) => r.grantsPerSecond),
        ratios: many.map((r) => `${r.couponsSoldOut}/${r.coupons} sold out`),
      },
    ],
  );
  const lat: any[] = crowds.latency;
  const delays = [...new Set(lat.map((r) => r.delayMs))];
  const byVariant = (v: string) => delays.map((d) => lat.find((r) => r.variant === v && r.delayMs === d));
  ratioBars(
    kit,
    'crowd-latency',
    'PostgreSQL and Redis one hop away: grants/s by delay each way',
    'per second',
    delays.map((d) => `${d} ms each way`),
    [
      { label: 'A (batch 1) grants/s', backgroundColor: colors.soldOut, data: byVariant('A').map((r) => r?.grantsPerSecond ?? null) },
      {
        label: 'B (shipped) grants/s',
        backgroundColor: colors.granted,
        data: byVariant('B').map((r) => r?.grantsPerSecond ?? null),
        ratios: byVariant('B').map((r) => `vs 0 ms ${times(r?.grantsPerSecond ?? null, byVariant('B')[0]?.grantsPerSecond ?? null)}`),
      },
    ],
  );
  const tax: any[] = crowds.tax;
  ratioBars(
    kit,
    'crowd-tax',
    'Per-request tax: GET /api/healthcheck/live, bare app vs the service (LOG_LEVEL=info)',
    'requests per second',
    tax.map((_, i) => `turn ${i + 1}`),
    [
      { label: 'bare NestJS + Fastify req/s', backgroundColor: colors.busy, data: tax.map((t) => t.bareRequestsPerSecond) },
      {
        label: 'service req/s',
        backgroundColor: colors.granted,
        data: tax.map((t) => t.serviceRequestsPerSecond),
        ratios: tax.map((t) => times(t.serviceRequestsPerSecond, t.bareRequestsPerSecond)),
      },
    ],
  );
}
