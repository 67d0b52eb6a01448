import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { SaleReport } from './sale-report';

/**
 * Code that runs in the browser. It is serialised with toString, so it may use only its
 * parameters, JavaScript built-ins and the other page functions of the same page (by name).
 */

export type PageFunction = (...args: any[]) => unknown;

/** What a page shows: `data` is exactly the object the tool prints with `--json`; `draw(kit, data)` draws it. */
export interface HtmlReportPage {
  title: string;
  kind: string;
  data: unknown;
  draw: PageFunction;
  /** Further page functions `draw` calls by name. */
  helpers?: PageFunction[];
}

/**
 * One self-contained HTML page: the `--json` object embedded as JSON, Chart.js (MIT) inlined
 * from node_modules, and the small drawing script. It loads nothing from the network, so it
 * opens offline and can be mailed around as one file.
 */
export function renderHtmlReport(page: HtmlReportPage): string {
  const functions = [reportKit, ...(page.helpers ?? []), page.draw].map((f) => f.toString()).join('\n');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(page.title)}</title>
<style>${STYLE}</style>
</head>
<body>
<main id="report"><h1>${escapeHtml(page.title)}</h1></main>
<script id="report-data" type="application/json" data-kind="${escapeHtml(page.kind)}">${scriptSafe(JSON.stringify(page.data))}</script>
<script>${scriptSafe(chartLibrary())}</script>
<script>${scriptSafe(functions)}
${page.draw.name}(reportKit(window.Chart, document), JSON.parse(document.getElementById('report-data').textContent));</script>
</body>
</html>
`;
}

/** The stress tool's page: `npm run stress -- --report PATH.html`. */
export function renderStressReport(report: SaleReport): string {
  return renderHtmlReport({
    title: `Flash-sale stress report: ${report.scenario.coupon}`,
    kind: 'stress',
    data: report,
    draw: drawStressReport,
    helpers: [drawOutcomeChart, drawStockChart, drawLatencyCharts],
  });
}

let chartSource: string | null = null;

/** Chart.js's UMD build (not in its "exports", so found beside the main file), minus its source-map comment (the map is not shipped in the page). */
function chartLibrary(): string {
  chartSource ??= readFileSync(join(dirname(require.resolve('chart.js')), 'chart.umd.js'), 'utf8').replace(
    /\n?\/\/# sourceMappingURL=\S*\s*$/,
    '\n',
  );
  return chartSource;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Inside <script> only "</script" and "<!--" can end or confuse it; U+2028/9 break old parsers. */
function scriptSafe(code: string): string {
  return code
    .replace(/<\/(script)/gi, '<\\/$1')
    .replace(/<!--/g, '<\\!--')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
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

/** Page function: the building blocks every page draws with (cards in a grid, charts, a check list). */
function reportKit(Chart: any, doc: any) {
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
  /** A summary line above the grid of cards. */
  const summary = (text: string) => {
    root.appendChild(el('p', { class: 'summary' }, text));
    root.appendChild(grid);
  };
  const axis = (title: string, extra: any = {}) => ({ title: { display: true, text: title }, ...extra });
  const colors = {
    granted: '#2da44e',
    soldOut: '#8c959f',
    already: '#0969da',
    busy: '#bf8700',
    errors: '#cf222e',
    p50: '#0969da',
    p99: '#cf222e',
  };
  return { chart, checkList, summary, axis, colors };
}

/** What reportKit gives a page's drawing functions. */
export type ReportKit = ReturnType<typeof reportKit>;

/** Page function: the stress report (a SaleReport). */
function drawStressReport(kit: ReportKit, data: any): void {
  const s = data.scenario;
  const l = data.latencyMs;
  const r = data.rates;
  kit.summary(
    `${s.users} users, stock ${s.stock}${s.coupons > 1 ? ` over ${s.coupons} coupons (${s.claimsPerUser} claimed per user)` : ''}, concurrency ${s.concurrency}, double dip ${s.doubleDip}, seed ${s.seed}; ` +
      `${data.counts.requests} requests in ${r.durationSeconds} s (${r.claimsPerSecond}/s); ` +
      (r.secondsUntilSoldOut === null ? 'not sold out; ' : `sold out after ${r.secondsUntilSoldOut} s; `) +
      `latency p50 ${l.p50} ms, p99 ${l.p99} ms, max ${l.max} ms; target ${s.targets.join(', ')}${s.selfHosted ? ' (self-started)' : ''}.`,
  );
  // Bucket width adapts to the run (100 ms for a sale over in a second); bars show rates per second.
  const width = data.timeline[0]?.widthMs ?? 1000;
  const seconds = (ms: number) => String(Math.round(ms) / 1000);
  const bucketLabels = data.timeline.map((b: any) => `${seconds(b.startMs)}-${seconds(b.startMs + b.widthMs)} s`);
  drawOutcomeChart(kit, data.timeline, width, bucketLabels);
  drawStockChart(kit, data.timeline, s.stock, r.secondsUntilSoldOut, r.durationSeconds);
  drawLatencyCharts(kit, data.timeline, width, bucketLabels, data.latencyHistogram);
  kit.checkList('Checks', data.checks);
}

/** Page function: claims per second by outcome, one stacked bar per time bucket. */
function drawOutcomeChart(kit: ReportKit, timeline: any[], width: number, bucketLabels: string[]): void {
  const { colors, axis } = kit;
  const perSecond = (n: number) => Math.round((n * 1000) / width);
  const named = ['GRANTED', 'SOLD_OUT', 'ALREADY_CLAIMED', 'LOCK_BUSY'];
  const outcome = (b: any, code: string) => b.outcomes[code] ?? 0;
  const errors = (b: any) =>
    Object.entries(b.outcomes)
      .filter(([code]) => !named.includes(code))
      .reduce((sum, [, n]) => sum + (n as number), 0);
  const series = [
    { label: 'granted', color: colors.granted, value: (b: any) => perSecond(outcome(b, 'GRANTED')) },
    { label: 'sold out', color: colors.soldOut, value: (b: any) => perSecond(outcome(b, 'SOLD_OUT')) },
    { label: 'already claimed', color: colors.already, value: (b: any) => perSecond(outcome(b, 'ALREADY_CLAIMED')) },
    { label: 'lock busy', color: colors.busy, value: (b: any) => perSecond(outcome(b, 'LOCK_BUSY')) },
    { label: 'errors', color: colors.errors, value: (b: any) => perSecond(errors(b)) },
  ];
  kit.chart('claims-per-second', `Claims per second by outcome (${width} ms buckets)`, {
    type: 'bar',
    data: {
      labels: bucketLabels,
      datasets: series.map((d) => ({ label: d.label, backgroundColor: d.color, data: timeline.map(d.value) })),
    },
    options: {
      scales: { x: { stacked: true, ...axis('time since the sale started') }, y: { stacked: true, ...axis('answers per second') } },
    },
  });
}

/** Page function: stock after each bucket, from the full stock at 0 s; a dashed line marks the sell-out. */
function drawStockChart(kit: ReportKit, timeline: any[], stock: number, soldOutAt: number | null, durationSeconds: number): void {
  const { colors, axis } = kit;
  // Stock is known at the end of each bucket, and exactly 0 at the sell-out moment.
  const stockPoints = [
    { x: 0, y: stock },
    ...timeline.map((b) => ({ x: Math.min((b.startMs + b.widthMs) / 1000, durationSeconds), y: b.stockLeft })),
  ].filter((p, i) => i === 0 || soldOutAt === null || p.x < soldOutAt);
  if (soldOutAt !== null) stockPoints.push({ x: soldOutAt, y: 0 }, { x: Math.max(soldOutAt, durationSeconds), y: 0 });
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
  const stockSets: any[] = [
    {
      label: 'stock left',
      borderColor: colors.granted,
      backgroundColor: 'rgba(45,164,78,0.15)',
      fill: true,
      data: stockPoints,
      pointRadius: 2,
    },
  ];
  if (soldOutAt !== null)
    stockSets.push({
      label: 'sell-out',
      type: 'scatter',
      borderColor: colors.errors,
      backgroundColor: colors.errors,
      pointRadius: 5,
      data: [{ x: soldOutAt, y: 0 }],
    });
  kit.chart('stock-left', 'Stock remaining over time', {
    type: 'line',
    data: { datasets: stockSets },
    options: {
      scales: { x: { type: 'linear', min: 0, ...axis('seconds since the sale started') }, y: { min: 0, ...axis('coupons left') } },
    },
    plugins: [soldOutMarker],
  });
}

/** Page function: p50 and p99 per time bucket, and the final latency histogram. */
function drawLatencyCharts(kit: ReportKit, timeline: any[], width: number, bucketLabels: string[], buckets: any[]): void {
  const { colors, axis } = kit;
  kit.chart('latency-over-time', `Latency per ${width} ms (p50, p99)`, {
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
  kit.chart('latency-histogram', 'Final latency histogram', {
    type: 'bar',
    data: {
      labels: buckets.map((b, i) => (b.upToMs < 0 ? `> ${buckets[i - 1]?.upToMs ?? 0} ms` : `<= ${b.upToMs} ms`)),
      datasets: [{ label: 'requests', backgroundColor: colors.p50, data: buckets.map((b) => b.count) }],
    },
    options: { scales: { x: axis('latency'), y: axis('requests') } },
  });
}
