import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { BenchResult } from '../bench/bench-result';
import type { SaleReport } from './sale-report';

/** What a page shows: exactly the object the tool prints with `--json`. */
export type HtmlReportInput = { kind: 'stress'; data: SaleReport } | { kind: 'bench'; data: BenchResult };

/**
 * One self-contained HTML page: the `--json` object embedded as JSON, Chart.js (MIT) inlined
 * from node_modules, and the small drawing script below. It loads nothing from the network,
 * so it opens offline and can be mailed around as one file.
 */
export function renderHtmlReport(input: HtmlReportInput): string {
  const title = input.kind === 'stress' ? `Flash-sale stress report: ${input.data.scenario.coupon}` : `Benchmark report: ${input.data.startedAt}`;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<main id="report"><h1>${escapeHtml(title)}</h1></main>
<script id="report-data" type="application/json" data-kind="${input.kind}">${scriptSafe(JSON.stringify(input.data))}</script>
<script>${scriptSafe(chartLibrary())}</script>
<script>(${drawReport.toString()})(window.Chart, document, ${JSON.stringify(input.kind)}, JSON.parse(document.getElementById('report-data').textContent));</script>
</body>
</html>
`;
}

let chartSource: string | null = null;

/** Chart.js's UMD build (not in its "exports", so found beside the main file), minus its source-map comment (the map is not shipped in the page). */
function chartLibrary(): string {
  chartSource ??= readFileSync(join(dirname(require.resolve('chart.js')), 'chart.umd.js'), 'utf8').replace(/\n?\/\/# sourceMappingURL=\S*\s*$/, '\n');
  return chartSource;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Inside <script> only "</script" and "<!--" can end or confuse it; U+2028/9 break old parsers. */
function scriptSafe(code: string): string {
  return code.replace(/<\/(script)/gi, '<\\/$1').replace(/<!--/g, '<\\!--').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

const STYLE = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 0; background: #f6f7f9; color: #1d2430; }
main { max-width: 1180px; margin: 0 auto; padding: 16px 24px 40px; }
h1 { font-size: 20px; margin: 8px 0 4px; } h2 { font-size: 15px; margin: 0 0 8px; }
.summary { color: #4a5566; margin-bottom: 12px; }
.grid { display: grid; grid-template-columns: 1fr 1fr; gap: 14px; }
.card { background: #fff; border: 1px solid #dde2ea; border-radius: 6px; padding: 12px 14px; }
.card.wide { grid-column: 1 / -1; }
.chart { position: relative; height: 260px; }
.checks { list-style: none; padding: 0; margin: 0; }
.checks li { padding: 3px 0; } .checks b { display: inline-block; width: 44px; }
.pass b { color: #1a7f37; } .fail b { color: #cf222e; }
.verdict { font-weight: 600; margin-top: 8px; }
`;

/**
 * The page's drawing code. It runs in the browser (serialised with toString), so it uses only
 * its parameters and JavaScript built-ins; every number it shows comes from `data`.
 */
/* eslint-disable @typescript-eslint/no-explicit-any */
function drawReport(Chart: any, doc: any, kind: 'stress' | 'bench', data: any): void {
  const root = doc.getElementById('report');
  const el = (tag: string, attrs: Record<string, string>, text?: string) => {
    const node = doc.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  };
  const grid = el('div', { class: 'grid' });
  const card = (title: string, wide = false) => {
    const box = el('section', { class: wide ? 'card wide' : 'card' });
    box.appendChild(el('h2', {}, title));
    grid.appendChild(box);
    return box;
  };
  const chart = (id: string, title: string, config: any, wide = false) => {
    const holder = el('div', { class: 'chart' });
    const canvas = el('canvas', { id, role: 'img', 'aria-label': title });
    holder.appendChild(canvas);
    card(title, wide).appendChild(holder);
    config.options = { responsive: true, maintainAspectRatio: false, animation: false, ...config.options };
    return new Chart(canvas, config);
  };
  const checkList = (title: string, checks: { name: string; passed: boolean; detail: string }[]) => {
    const box = card(title, true);
    const list = el('ul', { class: 'checks', id: 'checks' });
    for (const c of checks) {
      const item = el('li', { class: c.passed ? 'pass' : 'fail' });
      item.appendChild(el('b', {}, c.passed ? 'PASS' : 'FAIL'));
      item.appendChild(doc.createTextNode(`${c.name}: ${c.detail}`));
      list.appendChild(item);
    }
    box.appendChild(list);
    const failed = checks.filter((c) => !c.passed).length;
    box.appendChild(el('div', { class: 'verdict' }, failed === 0 ? `All ${checks.length} passed` : `${failed} of ${checks.length} FAILED`));
  };
  const axis = (title: string, extra: any = {}) => ({ title: { display: true, text: title }, ...extra });
  const colors = { granted: '#2da44e', soldOut: '#8c959f', already: '#0969da', busy: '#bf8700', errors: '#cf222e', p50: '#0969da', p99: '#cf222e' };

  if (kind === 'stress') {
    const s = data.scenario;
    const l = data.latencyMs;
    const r = data.rates;
    root.appendChild(
      el('p', { class: 'summary' },
        `${s.users} users, stock ${s.stock}${s.coupons > 1 ? ` over ${s.coupons} coupons (${s.claimsPerUser} claimed per user)` : ''}, concurrency ${s.concurrency}, double dip ${s.doubleDip}, seed ${s.seed}; ` +
        `${data.counts.requests} requests in ${r.durationSeconds} s (${r.claimsPerSecond}/s); ` +
        (r.secondsUntilSoldOut === null ? 'not sold out; ' : `sold out after ${r.secondsUntilSoldOut} s; `) +
        `latency p50 ${l.p50} ms, p99 ${l.p99} ms, max ${l.max} ms; target ${s.targets.join(', ')}${s.selfHosted ? ' (self-started)' : ''}.`),
    );
    root.appendChild(grid);
    const timeline: any[] = data.timeline;
    // Bucket width adapts to the run (100 ms for a sale over in a second); bars show rates per second.
    const width = timeline[0]?.widthMs ?? 1000;
    const seconds = (ms: number) => String(Math.round(ms) / 1000);
    const bucketLabels = timeline.map((b) => `${seconds(b.startMs)}-${seconds(b.startMs + b.widthMs)} s`);
    const perSecond = (n: number) => Math.round((n * 1000) / width);
    const named = ['GRANTED', 'SOLD_OUT', 'ALREADY_CLAIMED', 'LOCK_BUSY'];
    const outcome = (b: any, code: string) => b.outcomes[code] ?? 0;
    const errors = (b: any) => Object.entries(b.outcomes).filter(([code]) => !named.includes(code)).reduce((sum, [, n]) => sum + (n as number), 0);
    const series = [
      { label: 'granted', color: colors.granted, value: (b: any) => perSecond(outcome(b, 'GRANTED')) },
      { label: 'sold out', color: colors.soldOut, value: (b: any) => perSecond(outcome(b, 'SOLD_OUT')) },
      { label: 'already claimed', color: colors.already, value: (b: any) => perSecond(outcome(b, 'ALREADY_CLAIMED')) },
      { label: 'lock busy', color: colors.busy, value: (b: any) => perSecond(outcome(b, 'LOCK_BUSY')) },
      { label: 'errors', color: colors.errors, value: (b: any) => perSecond(errors(b)) },
    ];
    chart('claims-per-second', `Claims per second by outcome (${width} ms buckets)`, {
      type: 'bar',
      data: { labels: bucketLabels, datasets: series.map((d) => ({ label: d.label, backgroundColor: d.color, data: timeline.map(d.value) })) },
      options: { scales: { x: { stacked: true, ...axis('time since the sale started') }, y: { stacked: true, ...axis('answers per second') } } },
    });

    // Stock after each bucket, from the full stock at 0 s; a dashed line marks the sell-out.
    const soldOutAt = r.secondsUntilSoldOut;
    // Stock is known at the end of each bucket, and exactly 0 at the sell-out moment.
    const stockPoints = [{ x: 0, y: s.stock }, ...timeline.map((b) => ({ x: Math.min((b.startMs + b.widthMs) / 1000, r.durationSeconds), y: b.stockLeft }))]
      .filter((p, i) => i === 0 || soldOutAt === null || p.x < soldOutAt);
    if (soldOutAt !== null) stockPoints.push({ x: soldOutAt, y: 0 }, { x: Math.max(soldOutAt, r.durationSeconds), y: 0 });
    const soldOutMarker = {
      id: 'soldOutMarker',
      afterDatasetsDraw(c: any) {
        if (soldOutAt === null) return;
        const x = c.scales.x.getPixelForValue(soldOutAt);
        const ctx = c.ctx;
        ctx.save();
        ctx.strokeStyle = colors.errors;
        ctx.setLineDash([6, 4]);
        ctx.beginPath();
        ctx.moveTo(x, c.chartArea.top);
        ctx.lineTo(x, c.chartArea.bottom);
        ctx.stroke();
        ctx.fillStyle = colors.errors;
        ctx.textAlign = x > c.chartArea.right - 120 ? 'right' : 'left';
        ctx.fillText(`sold out at ${soldOutAt} s`, x + (ctx.textAlign === 'right' ? -6 : 6), c.chartArea.top + 12);
        ctx.restore();
      },
    };
    const stockSets: any[] = [{ label: 'stock left', borderColor: colors.granted, backgroundColor: 'rgba(45,164,78,0.15)', fill: true, data: stockPoints, pointRadius: 2 }];
    if (soldOutAt !== null) stockSets.push({ label: 'sell-out', type: 'scatter', borderColor: colors.errors, backgroundColor: colors.errors, pointRadius: 5, data: [{ x: soldOutAt, y: 0 }] });
    chart('stock-left', 'Stock remaining over time', {
      type: 'line',
      data: { datasets: stockSets },
      options: { scales: { x: { type: 'linear', min: 0, ...axis('seconds since the sale started') }, y: { min: 0, ...axis('coupons left') } } },
      plugins: [soldOutMarker],
    });

    chart('latency-over-time', `Latency per ${width} ms (p50, p99)`, {
      type: 'line',
      data: {
        labels: bucketLabels,
        datasets: [
          { label: 'p50', borderColor: colors.p50, backgroundColor: colors.p50, data: timeline.map((b) => b.p50Ms) },
          { label: 'p99', borderColor: colors.p99, backgroundColor: colors.p99, data: timeline.map((b) => b.p99Ms) },
        ],
      },
      options: { scales: { x: axis('time since the sale started'), y: { min: 0, ...axis('ms') } } },
    });

    const buckets: any[] = data.latencyHistogram;
    chart('latency-histogram', 'Final latency histogram', {
      type: 'bar',
      data: {
        labels: buckets.map((b, i) => (b.upToMs < 0 ? `> ${buckets[i - 1]?.upToMs ?? 0} ms` : `<= ${b.upToMs} ms`)),
        datasets: [{ label: 'requests', backgroundColor: colors.p50, data: buckets.map((b) => b.count) }],
      },
      options: { scales: { x: axis('latency'), y: axis('requests') } },
    });
    checkList('Checks', data.checks);
    return;
  }

  // The benchmark: one group of bars per stock/concurrency cell, ratios written on the bars.
  root.appendChild(el('p', { class: 'summary' }, `${data.users} users per sale; ${data.machine}; run ${data.startedAt}.`));
  root.appendChild(grid);
  const rows: any[] = data.rows;
  const labels = rows.map((row) => `stock ${row.stock} / conc ${row.concurrency}`);
  const times = (a: number | null, b: number | null) => (a === null || b === null || b === 0 ? '' : `${(a / b).toFixed(2)}x`);
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
          const lines = String(set.ratios[j] ?? '').split('\n').filter(Boolean);
          lines.forEach((line: string, k: number) => ctx.fillText(line, bar.x, bar.y - 6 - (lines.length - 1 - k) * 13));
        });
      });
      ctx.restore();
    },
  };
  // Grouped bars per stock/concurrency cell; headroom above the bars for the ratio text.
  const bars = (id: string, title: string, unit: string, datasets: any[], wide = false) =>
    chart(id, title, {
      type: 'bar',
      data: { labels, datasets },
      options: { scales: { y: { beginAtZero: true, grace: '18%', ...axis(unit) } } },
      plugins: [ratioLabels],
    }, wide);
  bars('bench-throughput', 'Claims granted per second: A (batch 1), B (as shipped), C (pgbench ceiling); D: HTTP ceiling', 'per second', [
    { label: 'A grants/s', backgroundColor: colors.soldOut, data: rows.map((row) => row.a.grantsPerSecond) },
    { label: 'B grants/s', backgroundColor: colors.granted, data: rows.map((row) => row.b.grantsPerSecond),
      ratios: rows.map((row) => `B/A ${times(row.b.grantsPerSecond, row.a.grantsPerSecond)}\nB/C ${times(row.b.grantsPerSecond, row.cTps)}`) },
    { label: 'C tps', backgroundColor: colors.already, data: rows.map((row) => row.cTps) },
    { label: 'D req/s', backgroundColor: colors.busy, data: rows.map((row) => row.dRequestsPerSecond) },
  ], true);
  bars('bench-latency', 'Claim latency p99 (ms): A vs B', 'ms', [
    { label: 'A p99 ms', backgroundColor: colors.soldOut, data: rows.map((row) => row.a.p99Ms) },
    { label: 'B p99 ms', backgroundColor: colors.granted, data: rows.map((row) => row.b.p99Ms),
      ratios: rows.map((row) => `A/B ${times(row.a.p99Ms, row.b.p99Ms)}`) },
  ]);
  bars('bench-sold-out', 'Answers per second after the sell-out: B, B without the fast path, B reusing a read, D (no such pass when stock = users)', 'per second', [
    { label: 'B sold-out answers/s', backgroundColor: colors.granted, data: rows.map((row) => row.b.soldOutAnswersPerSecond),
      ratios: rows.map((row) => (row.b.soldOutAnswersPerSecond === null ? '' : `B/D ${times(row.b.soldOutAnswersPerSecond, row.dRequestsPerSecond)}`)) },
    { label: 'no fast path answers/s', backgroundColor: colors.already, data: rows.map((row) => row.soldOutWithoutFastPath),
      ratios: rows.map((row) => (row.soldOutWithoutFastPath === null ? '' : `/D ${times(row.soldOutWithoutFastPath, row.dRequestsPerSecond)}`)) },
    { label: 'read reused 100 ms answers/s', backgroundColor: colors.soldOut, data: rows.map((row) => row.soldOutReusingRead),
      ratios: rows.map((row) => (row.soldOutReusingRead === null ? '' : `/D ${times(row.soldOutReusingRead, row.dRequestsPerSecond)}`)) },
    { label: 'D req/s', backgroundColor: colors.busy, data: rows.map((row) => row.dRequestsPerSecond) },
  ]);
  const crowds = data.crowds;
  if (crowds) {
    const sweep: any[] = crowds.sweep;
    const sweepLabels = sweep.map((r) => `${r.concurrency} in flight`);
    const line = (id: string, title: string, unit: string, labelsOf: string[], datasets: any[]) =>
      chart(id, title, { type: 'bar', data: { labels: labelsOf, datasets }, options: { scales: { y: { beginAtZero: true, grace: '18%', ...axis(unit) } } }, plugins: [ratioLabels] });
    line('crowd-sweep-throughput', 'Concurrency sweep: grants/s and sold-out answers/s', 'per second', sweepLabels, [
      { label: 'grants/s', backgroundColor: colors.granted, data: sweep.map((r) => r.grantsPerSecond), ratios: sweep.map((r) => `vs 64: ${times(r.grantsPerSecond, sweep[0].grantsPerSecond)}`) },
      { label: 'sold-out answers/s', backgroundColor: colors.soldOut, data: sweep.map((r) => r.soldOutAnswersPerSecond) },
    ]);
    line('crowd-sweep-latency', 'Concurrency sweep: latency (ms) and listen overflows', 'ms', sweepLabels, [
      { label: 'p50 ms', backgroundColor: colors.p50, data: sweep.map((r) => r.p50Ms) },
      { label: 'mean ms', backgroundColor: '#8250df', data: sweep.map((r) => r.meanMs) },
      { label: 'p99 ms', backgroundColor: colors.p99, data: sweep.map((r) => r.p99Ms), ratios: sweep.map((r) => `p99/mean ${times(r.p99Ms, r.meanMs)}\noverflows ${r.listenOverflows}`) },
      { label: 'max ms', backgroundColor: colors.busy, data: sweep.map((r) => r.maxMs) },
    ]);
    const many: any[] = crowds.manyCoupons;
    line('crowd-many-coupons', 'One coupon vs many, same total stock: grants/s', 'per second', many.map((r, i) => `${r.coupons} coupon${r.coupons > 1 ? 's' : ''} (run ${i + 1})`), [
      { label: 'grants/s', backgroundColor: colors.granted, data: many.map((r) => r.grantsPerSecond), ratios: many.map((r) => `${r.couponsSoldOut}/${r.coupons} sold out`) },
    ]);
    const lat: any[] = crowds.latency;
    const delays = [...new Set(lat.map((r) => r.delayMs))];
    const byVariant = (v: string) => delays.map((d) => lat.find((r) => r.variant === v && r.delayMs === d));
    line('crowd-latency', 'PostgreSQL and Redis one hop away: grants/s by delay each way', 'per second', delays.map((d) => `${d} ms each way`), [
      { label: 'A (batch 1) grants/s', backgroundColor: colors.soldOut, data: byVariant('A').map((r) => r?.grantsPerSecond ?? null) },
      { label: 'B (shipped) grants/s', backgroundColor: colors.granted, data: byVariant('B').map((r) => r?.grantsPerSecond ?? null),
        ratios: byVariant('B').map((r) => `vs 0 ms ${times(r?.grantsPerSecond ?? null, byVariant('B')[0]?.grantsPerSecond ?? null)}`) },
    ]);
    const tax: any[] = crowds.tax;
    line('crowd-tax', 'Per-request tax: GET /api/healthcheck/live, bare app vs the service (LOG_LEVEL=info)', 'requests per second', tax.map((_, i) => `turn ${i + 1}`), [
      { label: 'bare NestJS + Fastify req/s', backgroundColor: colors.busy, data: tax.map((t) => t.bareRequestsPerSecond) },
      { label: 'service req/s', backgroundColor: colors.granted, data: tax.map((t) => t.serviceRequestsPerSecond), ratios: tax.map((t) => times(t.serviceRequestsPerSecond, t.bareRequestsPerSecond)) },
    ]);
  }
  checkList('Targets', data.targets);
}
