import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BenchResult, ServiceRow } from '../bench/bench-result';
import { benchTargets } from '../bench/bench-result';
import { crowdsTargets } from '../bench/crowds-result';
import { renderBenchReport } from '../bench/bench-report';
import { externalReferences, renderInBrowser } from './support/report-browser';

const CLI = join(__dirname, '..', 'dist', 'stress-test', 'cli.js');
const dir = mkdtempSync(join(tmpdir(), 'html-report-'));

function stress(args: string[]) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args]);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The JSON the page draws from, read back out of the page. */
function embeddedData(html: string): unknown {
  const match = /<script id="report-data" type="application\/json" data-kind="\w+">([\s\S]*?)<\/script>/.exec(html);
  if (!match) throw new Error('no embedded report data');
  return JSON.parse(match[1]);
}

/** Every http(s) URL in the file that is neither report data (e.g. the target's address) nor in a licence header of the inlined library. */
function unexplainedUrls(html: string): string[] {
  const data = /<script id="report-data"[^>]*>([\s\S]*?)<\/script>/.exec(html)![1];
  const rest = html.replace(data, '').replace(/\/\*![\s\S]*?\*\//g, '');
  return [...rest.matchAll(/https?:\/\/[^\s"'<>)]*/g)].map((m) => m[0]);
}

function expectNoNetwork(html: string, requests: string[]) {
  expect(externalReferences(html)).toEqual([]);
  expect(unexplainedUrls(html)).toEqual([]);
  expect(requests.length).toBeGreaterThan(0); // the page itself, so the log did work
  expect(requests.filter((url) => !/^(file|data):/.test(url))).toEqual([]);
}

const row = (grants: number, p99: number, soldOut: number | null, failed: string[] = []): ServiceRow => ({
  grantsPerSecond: grants,
  p50Ms: p99 / 4,
  p99Ms: p99,
  lockBusyWhileStock: 0,
  soldOutAnswersPerSecond: soldOut,
  checksPassed: failed.length === 0,
  failedChecks: failed,
});

/** A fixed bench result (not measured): the shape `npm run bench -- --json` prints. */
function benchFixture(): BenchResult {
  const rows = [
    {
      stock: 1000,
      concurrency: 64,
      a: row(410, 190, null),
      b: row(2300, 60, 5100),
      cTps: 1900,
      dRequestsPerSecond: 7400,
      soldOutWithoutFastPath: 4100,
      soldOutReusingRead: 5600,
    },
    {
      stock: 1000,
      concurrency: 256,
      a: row(380, 700, null),
      b: row(2500, 150, 5300),
      cTps: 2100,
      dRequestsPerSecond: 7600,
      soldOutWithoutFastPath: 4300,
      soldOutReusingRead: 5800,
    },
    {
      stock: 2000,
      concurrency: 64,
      a: row(400, 180, null),
      b: row(2400, 55, null, ['</script><img src=x onerror=alert(1)>']),
      cTps: 1900,
      dRequestsPerSecond: 7300,
      soldOutWithoutFastPath: null,
      soldOutReusingRead: null,
    },
  ];
  const sweep = [64, 256, 1024, 4096].map((concurrency, i) => ({
    concurrency,
    grantsPerSecond: 2500 - i * 100,
    p50Ms: 20 * (i + 1),
    p99Ms: 60 * (i + 1),
    maxMs: 80 * (i + 1),
    meanMs: 30 * (i + 1),
    listenOverflows: 0,
    apiPeakRssMb: 200,
    soldOutAnswersPerSecond: 5000,
    failedChecks: [],
  }));
  const manyCoupons = [1, 50].map((coupons) => ({
    coupons,
    stock: 1000,
    grantsPerSecond: coupons === 1 ? 2400 : 2000,
    p99Ms: 90,
    couponsSoldOut: coupons,
    failedChecks: [],
  }));
  const latency = (['A', 'B'] as const).flatMap((variant) =>
    [0, 1].map((delayMs) => ({
      variant,
      delayMs,
      stock: 100,
      grantsPerSecond: variant === 'A' ? 300 / (1 + 9 * delayMs) : 2000 - 400 * delayMs,
      p99Ms: 100,
      failedChecks: [],
    })),
  );
  const tax = [{ bareRequestsPerSecond: 20000, serviceRequestsPerSecond: 15000, failed: 0 }];
  const crowdsPart = { users: 8000, stock: 4000, latencyUsers: 2000, latencyStock: 1000, sweep, manyCoupons, latency, tax };
  const crowds = { ...crowdsPart, targets: crowdsTargets(crowdsPart) };
  const targets = [...benchTargets(rows), ...crowds.targets];
  return {
    startedAt: '2026-11-23T10:00:00.000Z',
    machine: '2 cores (fixture), Node v20',
    users: 2000,
    pgbenchMaxClients: 90,
    rows,
    crowds,
    targets,
    passed: targets.every((t) => t.passed),
  };
}

describe('HTML reports (rendered in headless Chromium)', () => {
  it('npm run stress -- --report draws every chart from the same object --json prints, offline', async () => {
    const htmlPath = join(dir, 'stress.html');
    const result = await stress([
      '--users',
      '300',
      '--stock',
      '40',
      '--concurrency',
      '32',
      '--double-dip',
      '5',
      '--json',
      '--report',
      htmlPath,
    ]);
    expect(result.code).toBe(0);
    expect(result.stderr).toContain(`wrote the HTML report to ${htmlPath}`);
    const report = JSON.parse(result.stdout);
    const html = readFileSync(htmlPath, 'utf8');
    expect(embeddedData(html)).toEqual(report);

    const shot = join(dir, 'stress.png');
    const page = await renderInBrowser(htmlPath, shot);
    expect(page.pageErrors).toEqual([]);
    expect(page.consoleErrors).toEqual([]);
    expectNoNetwork(html, page.requests);
    const byId = Object.fromEntries(page.charts.map((c) => [c.id, c]));
    expect(Object.keys(byId).sort()).toEqual(['claims-per-second', 'latency-histogram', 'latency-over-time', 'stock-left']);
    expect(byId['claims-per-second'].datasetLabels).toEqual(['granted', 'sold out', 'already claimed', 'lock busy', 'errors']);
    expect(byId['stock-left'].datasetLabels).toEqual(['stock left', 'sell-out']);
    expect(byId['latency-over-time'].datasetLabels).toEqual(['p50', 'p99']);
    expect(byId['latency-histogram'].datasetLabels).toEqual(['requests']);
    // A sale of a few seconds is drawn in 100 ms buckets, one bar each, not one bar per second.
    expect(report.timeline[0].widthMs).toBe(100);
    expect(report.timeline.length).toBeGreaterThanOrEqual(Math.floor((report.rates.durationSeconds * 1000) / 100));
    expect(byId['claims-per-second'].labels).toEqual(
      report.timeline.map((b: { startMs: number }) => `${b.startMs / 1000}-${(b.startMs + 100) / 1000} s`),
    );
    expect(byId['claims-per-second'].labels[1]).toBe('0.1-0.2 s');
    expect(byId['latency-over-time'].labels).toHaveLength(report.timeline.length);
    for (const chart of page.charts) {
      expect(chart.pointCount).toBeGreaterThan(0);
      expect(chart.width * chart.height).toBeGreaterThan(0);
      expect(chart.inkedPixels).toBeGreaterThan(500);
    }
    expect(page.checks.map((c) => c.text)).toEqual(
      report.checks.map((c: { name: string; detail: string }) => `PASS${c.name}: ${c.detail}`),
    );
    expect(page.checks.every((c) => c.passed)).toBe(true);
    expect(page.headline).toContain(`300 users, stock 40`);
    expect(statSync(shot).size).toBeGreaterThan(10_000);
  });

  it('the bench page draws A/B/C/D side by side with the ratios on the bars, and shows hostile text as text', async () => {
    const data = benchFixture();
    const htmlPath = join(dir, 'bench.html');
    const html = renderBenchReport(data);
    writeFileSync(htmlPath, html);
    expect(embeddedData(html)).toEqual(JSON.parse(JSON.stringify(data)));

    const page = await renderInBrowser(htmlPath, join(dir, 'bench.png'));
    expect(page.pageErrors).toEqual([]);
    expect(page.consoleErrors).toEqual([]);
    expectNoNetwork(html, page.requests);
    const byId = Object.fromEntries(page.charts.map((c) => [c.id, c]));
    expect(byId['bench-throughput'].datasetLabels).toEqual(['A grants/s', 'B grants/s', 'C tps', 'D req/s']);
    expect(byId['bench-throughput'].ratios).toEqual([['B/A 5.61x\nB/C 1.21x', 'B/A 6.58x\nB/C 1.19x', 'B/A 6.00x\nB/C 1.26x']]);
    expect(byId['bench-latency'].ratios).toEqual([['A/B 3.17x', 'A/B 4.67x', 'A/B 3.27x']]);
    expect(byId['bench-sold-out'].datasetLabels).toEqual([
      'B sold-out answers/s',
      'no fast path answers/s',
      'read reused 100 ms answers/s',
      'D req/s',
    ]);
    expect(byId['bench-sold-out'].ratios).toEqual([
      ['B/D 0.69x', 'B/D 0.70x', ''],
      ['/D 0.55x', '/D 0.57x', ''],
      ['/D 0.76x', '/D 0.76x', ''],
    ]);
    // The crowd rows: the sweep, many coupons, one hop away, the per-request tax.
    expect(byId['crowd-sweep-throughput'].labels).toEqual(['64 in flight', '256 in flight', '1024 in flight', '4096 in flight']);
    expect(byId['crowd-sweep-throughput'].ratios).toEqual([['vs 64: 1.00x', 'vs 64: 0.96x', 'vs 64: 0.92x', 'vs 64: 0.88x']]);
    expect(byId['crowd-sweep-latency'].datasetLabels).toEqual(['p50 ms', 'mean ms', 'p99 ms', 'max ms']);
    expect(byId['crowd-many-coupons'].ratios).toEqual([['1/1 sold out', '50/50 sold out']]);
    expect(byId['crowd-latency'].ratios).toEqual([['vs 0 ms 1.00x', 'vs 0 ms 0.80x']]);
    expect(byId['crowd-tax'].ratios).toEqual([['0.75x']]);
    for (const chart of page.charts) expect(chart.inkedPixels).toBeGreaterThan(500);
    expect(page.checks).toHaveLength(data.targets.length);
    const failed = page.checks.filter((c) => !c.passed).map((c) => c.text);
    expect(failed).toEqual([expect.stringContaining('</script><img src=x onerror=alert(1)>')]);
  });

  it('refuses --report without a path, before running anything', async () => {
    const result = await stress(['--users', '10', '--report']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--report needs a file path');
    expect(result.stderr).not.toContain('the sale starts');
  });

  it('the URL scan would catch a page that loads something', () => {
    const clean = renderBenchReport(benchFixture());
    expect(externalReferences(clean)).toEqual([]);
    const tainted = [
      clean.replace('<title>', '<script src="https://cdn.example/chart.js"></script><title>'),
      clean.replace('<style>', '<link rel="stylesheet" href="//fonts.example/x.css"><style>'),
      clean.replace('body {', 'body { background: url(https://img.example/a.png);'),
      clean.replace('function reportKit', 'fetch("https://api.example/x"); function reportKit'),
    ];
    for (const html of tainted) expect(externalReferences(html)).toHaveLength(1);
    expect(unexplainedUrls(tainted[0])).toEqual(['https://cdn.example/chart.js']);
  });
});
