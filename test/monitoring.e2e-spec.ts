import { ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse, stringify } from 'yaml';
import { freePort } from '../harness/redis-node';
import { TestApp, makeUsers, sleep, startTestApp } from './support/test-app';

/**
 * The monitoring files in deploy/ checked by the tools that read them: promtool checks and unit
 * tests the alert rules, and a real Prometheus (Debian's `prometheus` package; .ci/run installs
 * it) scrapes a running instance during a small sale and evaluates every expression of the rules
 * and the dashboard. An expression that does not parse, or that names a metric the service does
 * not serve, fails here instead of staying silent on the night of the sale.
 */
const ROOT = join(__dirname, '..');
const PROMETHEUS_DIR = join(ROOT, 'deploy', 'prometheus');
const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');
const exec = promisify(execFile);

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
const rules: Rule[] = parse(read('deploy/prometheus/alerts.yml')).groups.flatMap((group: { rules: Rule[] }) => group.rules);
const dashboard = JSON.parse(read('deploy/grafana/flash-sale.json'));
/** Grafana's interval variable, as Grafana would fill it in at a 5 s scrape interval. */
const dashboardExpressions: { panel: string; expr: string }[] = dashboard.panels.flatMap((panel: any) =>
  (panel.targets ?? []).map((target: any) => ({ panel: panel.title, expr: String(target.expr).replaceAll('$__rate_interval', '1m') })),
);

const PROMQL_WORDS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'bool',
  'and',
  'or',
  'unless',
  'offset',
  'Inf',
  'NaN',
]);

/** The metric names a PromQL expression selects: identifiers that are not functions, keywords, labels or durations. */
export function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names = [...bare.matchAll(/(?<![\w.])([a-zA-Z_:][\w:]*)(\s*\()?/g)]
    .filter((match) => !match[2] && !PROMQL_WORDS.has(match[1]))
    .map((match) => match[1]);
  return [...new Set(names)];
}

describe('deploy/prometheus with promtool', () => {
  it('the rules file passes promtool check rules', async () => {
    const { stdout } = await exec('promtool', ['check', 'rules', join(PROMETHEUS_DIR, 'alerts.yml')]);
    expect(stdout).toContain(`SUCCESS: ${rules.length} rules found`);
  });

  it('the scrape configuration passes promtool check config', async () => {
    const { stdout } = await exec('promtool', ['check', 'config', join(PROMETHEUS_DIR, 'prometheus.yml')]);
    expect(stdout).toContain('is valid prometheus config file syntax');
  });

  it('every alert fires on its failing series and stays quiet on healthy ones (promtool test rules)', async () => {
    const result = await exec('promtool', ['test', 'rules', 'alerts.test.yml'], { cwd: PROMETHEUS_DIR }).catch((error) => error);
    expect({ stdout: result.stdout, stderr: result.stderr }).toEqual({ stdout: expect.stringContaining('SUCCESS'), stderr: '' });
  });

  it('the unit tests cover every alert both ways', () => {
    const tests = parse(read('deploy/prometheus/alerts.test.yml')).tests as {
      alert_rule_test: { alertname: string; exp_alerts: unknown[] }[];
    }[];
    const cases = tests.flatMap((test) => test.alert_rule_test);
    for (const { alert } of rules) {
      const own = cases.filter((c) => c.alertname === alert);
      expect({ alert, fires: own.some((c) => c.exp_alerts.length > 0), quiet: own.some((c) => c.exp_alerts.length === 0) }).toEqual({
        alert,
        fires: true,
        quiet: true,
      });
    }
  });

  it('every alert has a for:, a severity and a summary and description for the person paged', () => {
    for (const rule of rules) {
      expect({
        alert: rule.alert,
        for: typeof rule.for,
        severity: rule.labels?.severity,
        summary: !!rule.annotations?.summary,
        description: !!rule.annotations?.description,
      }).toEqual({
        alert: rule.alert,
        for: 'string',
        severity: expect.stringMatching(/^(page|warning)$/),
        summary: true,
        description: true,
      });
    }
  });

  it('operations.md links to the rules instead of copying their expressions', () => {
    const operations = read('documentation/operations.md');
    expect(operations).toContain('](../deploy/prometheus/alerts.yml)');
    expect(operations).toContain('](../deploy/grafana/flash-sale.json)');
    for (const rule of rules) {
      expect(operations).toContain(rule.alert);
      for (const line of rule.expr
        .split('\n')
        .map((l) => l.trim())
        .filter(Boolean)) {
        expect({ alert: rule.alert, copied: operations.includes(line) }).toEqual({ alert: rule.alert, copied: false });
      }
    }
  });

  it('metricNames finds the metrics an expression selects, and nothing else', () => {
    expect(
      metricNames('histogram_quantile(0.99, sum by (le, route) (rate(http_request_duration_seconds_bucket{route!~"x|y"}[5m]))) > 2'),
    ).toEqual(['http_request_duration_seconds_bucket']);
    expect(metricNames('sum(rate(a_total{outcome=~"LOCK_.*"}[1m])) / sum(rate(b_total[1m])) > 0.05 and on (job) up == 1')).toEqual([
      'a_total',
      'b_total',
      'up',
    ]);
  });
});

describe('deploy/ expressions against a real Prometheus scraping the service during a sale', () => {
  let t: TestApp;
  let prometheus: ChildProcess | undefined;
  let prometheusLog = '';
  let dataDir: string;
  let api: string;

  const query = async (expr: string) => {
    const res = await fetch(`${api}/api/v1/query?${new URLSearchParams({ query: expr })}`);
    return (await res.json()) as { status: string; error?: string; data?: { result: unknown[] } };
  };

  beforeAll(async () => {
    t = await startTestApp({ DATABASE_POOL_SIZE: 3 });
    dataDir = mkdtempSync(join(tmpdir(), 'prometheus-test-'));
    // deploy/prometheus/prometheus.yml as shipped, but scraping this instance every second.
    const config = parse(read('deploy/prometheus/prometheus.yml'));
    config.global = { ...config.global, scrape_interval: '1s', evaluation_interval: '1s' };
    config.rule_files = config.rule_files.map((file: string) => join(PROMETHEUS_DIR, file));
    config.scrape_configs = config.scrape_configs.filter((job: any) => job.job_name === 'flash-sale-api');
    config.scrape_configs[0].static_configs = [{ targets: [new URL(t.url).host] }];
    writeFileSync(join(dataDir, 'prometheus.yml'), stringify(config));
    const port = await freePort();
    api = `http://127.0.0.1:${port}`;
    prometheus = spawn(
      'prometheus',
      [
        `--config.file=${join(dataDir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dataDir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--log.level=warn',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    prometheus.on('error', (error) => (prometheusLog += `${error.message}\n`));
    if (prometheus.pid === undefined) throw new Error("cannot start prometheus: install Debian's prometheus package (.ci/run does)");
    prometheus.stdout!.on('data', (chunk: Buffer) => (prometheusLog += chunk.toString()));
    prometheus.stderr!.on('data', (chunk: Buffer) => (prometheusLog += chunk.toString()));

    // A small sale: 3 units, 5 buyers at once, one of them twice.
    const admin = await t.adminToken();
    expect((await t.api.createCoupon(admin, 'MONITORED', 3)).status).toBe(201);
    const buyers = await makeUsers(t.api, 'monitoring_u', 5);
    const answers = await Promise.all([...buyers, buyers[0]].map((buyer) => t.api.claim(buyer.token, 'MONITORED')));
    expect(answers.filter((a) => a.status === 200)).toHaveLength(3);

    // Until Prometheus has scraped the sale's end and evaluated every rule at least once.
    const deadline = Date.now() + 45_000;
    for (;;) {
      const granted = await query('sum(coupon_claims_total{outcome="GRANTED"})').catch(() => undefined);
      const ruleHealth = await fetch(`${api}/api/v1/rules`)
        .then((r) => r.json())
        .then((body: any) => body.data.groups.flatMap((g: any) => g.rules.map((r: any) => r.health)) as string[])
        .catch(() => [] as string[]);
      const scraped = (granted?.data?.result[0] as { value: [number, string] } | undefined)?.value[1] === '3';
      if (scraped && ruleHealth.length === rules.length && !ruleHealth.includes('unknown')) break;
      if (Date.now() > deadline || prometheus.exitCode !== null) throw new Error(`Prometheus did not scrape the sale:\n${prometheusLog}`);
      await sleep(500);
    }
  }, 90_000);

  afterAll(async () => {
    if (prometheus?.pid !== undefined && prometheus.exitCode === null) {
      const exited = new Promise((resolve) => prometheus!.once('exit', resolve));
      prometheus.kill('SIGTERM');
      await exited;
    }
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    await t?.close();
  });

  it('loads every alert rule and evaluates it without an error', async () => {
    const body = (await (await fetch(`${api}/api/v1/rules`)).json()) as any;
    const loaded = body.data.groups.flatMap((g: any) => g.rules) as { name: string; health: string; lastError?: string }[];
    expect(loaded.map((r) => r.name).sort()).toEqual(rules.map((r) => r.alert).sort());
    for (const rule of loaded)
      expect({ name: rule.name, health: rule.health, error: rule.lastError ?? '' }).toEqual({ name: rule.name, health: 'ok', error: '' });
  });

  it('evaluates every rule and dashboard expression without an error', async () => {
    const expressions = [...rules.map((r) => ({ panel: `alert ${r.alert}`, expr: r.expr })), ...dashboardExpressions];
    expect(dashboardExpressions.length).toBeGreaterThan(10);
    for (const { panel, expr } of expressions) {
      const answer = await query(expr);
      expect({ panel, expr, status: answer.status, error: answer.error }).toEqual({ panel, expr, status: 'success', error: undefined });
    }
  });

  it('finds at least one series of every metric the rules and the dashboard name', async () => {
    const names = new Set([...rules.map((r) => r.expr), ...dashboardExpressions.map((d) => d.expr)].flatMap((expr) => metricNames(expr)));
    expect(names.size).toBeGreaterThan(10);
    for (const name of names) {
      const answer = await query(name);
      expect({ name, series: (answer.data?.result.length ?? 0) > 0 }).toEqual({ name, series: true });
    }
  });

  it('shows the sale as it happened: stock down to 0, claims by outcome', async () => {
    const value = async (expr: string) => Number(((await query(expr)).data!.result[0] as { value: [number, string] }).value[1]);
    expect(await value('max(coupons_remaining_amount)')).toBe(0);
    expect(await value('max(coupons_sold_out)')).toBe(1);
    expect(await value('sum(coupon_claims_total{outcome="SOLD_OUT"})')).toBe(2);
    expect(await value('sum(coupon_claims_total{outcome="ALREADY_CLAIMED"})')).toBe(1);
  });
});
