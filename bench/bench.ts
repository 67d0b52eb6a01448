import { ConsoleLogger, LogLevel, Logger } from '@nestjs/common';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, projectRoot } from '../src/config/config.loader';
import { createDataSource } from '../src/database/data-source';
import { ensureDatabaseExists, runMigrations } from '../src/database/database-setup';
import { runSale } from '../harness/claim-runner';
import { HttpAnswer, HttpPool, runBounded } from '../harness/http-pool';
import { checkSale } from '../harness/sale-checks';
import { startSelfHostedService } from '../harness/self-hosted-service';
import { databaseSnapshot, dropDatabase } from '../harness/database-checks';
import { SaleUser, login, seedUsers } from '../harness/user-seeder';
import { BenchResult, BenchRow, BenchTarget, ServiceRow, benchTable, benchTargets } from './bench-result';
import { renderBenchReport } from './bench-report';
import { FloodResult, floodTable, floodTargets, measureFloodRows } from './flood-rows';
import { STORM_ROWS, StormRowsResult, measureStormRows } from './storm-rows';
import { requireWrk } from './wrk';
import { KeyRowsResult, keyRowsTable, keyTargets, measureKeyRows } from './idempotency-rows';
import { measureCrowds, startBareApp } from './crowds';
import { CrowdsResult, crowdsTables } from './crowds-result';

/**
 * `npm run bench`: rows A (batch size 1), B (as shipped), C (pgbench, the bare claim
 * transaction on one hot row) and D (a constant NestJS + Fastify endpoint), measured in one
 * run on this machine under the same load tool. Ratios, not absolute numbers, are the result.
 */
const USERS = Number(process.env.BENCH_USERS ?? 10_000);
const STOCKS = [1_000, 10_000].map((s) => Math.min(s, USERS));
const CONCURRENCY = [64, 256];
/** PostgreSQL here allows 100 connections; pgbench gets at most this many clients. */
const PGBENCH_MAX_CLIENTS = 90;
const PGBENCH_SECONDS = Number(process.env.BENCH_PGBENCH_SECONDS ?? 5);

/**
 * A: one claim per batch; B: as shipped. Measured only in the sold-out turns: N, as shipped
 * without the sold-out fast path (claim-fast-path.ts); R, as shipped but reusing a stock read
 * for 100 ms (SOLD_OUT_READ_REUSE_MS, admin changes then wait 100 ms).
 */
type Variant = 'A' | 'B' | 'N' | 'R';
const VARIANT_ENV: Record<Variant, Record<string, string>> = {
  A: { CLAIM_BATCH_SIZE: '1' },
  B: {},
  N: { CLAIM_FAST_PATH: 'false' },
  R: { SOLD_OUT_READ_REUSE_MS: '100' },
};

const log = (line: string) => process.stderr.write(`bench: ${line}\n`);

interface PreparedService {
  variant: Variant;
  http: HttpPool;
  admin: string;
  users: SaleUser[];
  databaseUrl: string;
  stop: () => Promise<void>;
}

/** Starts one variant of the service and gives it its users (bulk insert + real logins). */
async function prepareService(variant: Variant): Promise<PreparedService> {
  const service = await startSelfHostedService(VARIANT_ENV[variant]);
  const http = new HttpPool([service.url], Math.max(...CONCURRENCY), 60_000);
  const admin = await login(http, service.adminUser, service.adminPassword);
  const { users } = await seedUsers({
    http,
    databaseUrl: service.databaseUrl,
    prefix: `bench${variant}_`,
    count: USERS,
    password: 'bench-password-1',
    concurrency: 64,
  });
  // Warm the connections and the claim path's code before anything is measured.
  await http.request('POST', '/api/coupons', { name: `WARMUP_${variant}`, amount: 100 }, admin);
  await runBounded(users.slice(0, 2000), Math.max(...CONCURRENCY), async (user) => {
    await http.request('POST', '/api/coupons/claim', { coupon_name: `WARMUP_${variant}` }, user.token);
  });
  return {
    variant,
    http,
    admin,
    users,
    databaseUrl: service.databaseUrl,
    stop: async () => {
      await http.close();
      await service.stop();
    },
  };
}

const couponOf = (variant: Variant, stock: number, concurrency: number) => `BENCH_${variant}_${stock}_${concurrency}`;

async function measureVariant(service: PreparedService, stock: number, concurrency: number): Promise<ServiceRow> {
  const coupon = couponOf(service.variant, stock, concurrency);
  await service.http.request('POST', '/api/coupons', { name: coupon, amount: stock }, service.admin);
  const row = await measureSale(service.http, coupon, service.users, stock, concurrency, service.databaseUrl);
  log(`${service.variant} stock ${stock} concurrency ${concurrency}: ${JSON.stringify(row)}`);
  return row;
}

async function measureSale(
  http: HttpPool,
  coupon: string,
  users: SaleUser[],
  stock: number,
  concurrency: number,
  databaseUrl: string,
): Promise<ServiceRow> {
  const sale = { http, couponName: coupon, users, stock, concurrency, seed: 7, durationSeconds: 300, retries: 5, retryDelayMs: 100 };
  const run = await runSale({ ...sale, doubleDip: 0 });
  const soldOut = run.soldOutAtMs ?? run.durationMs;
  const granted = run.records.filter((r) => r.status === 200).length;
  const busyFinal = run.records.filter((r) => r.code === 'LOCK_BUSY' && r.answeredAtMs <= soldOut).length;
  const database = await databaseSnapshot(databaseUrl, coupon);
  const couponView = await http.request('GET', `/api/coupons/${coupon}`, undefined, users[0].token);
  const checks = checkSale({
    records: run.records,
    stock,
    userCount: users.length,
    doubleDip: 0,
    dipper: users[0].username,
    coupon: couponView.status === 200 ? couponView.body : null,
    database,
  });
  const row: ServiceRow = {
    grantsPerSecond: round(granted / (soldOut / 1000)),
    p50Ms: round(run.latency.getValueAtPercentile(50) / 1000),
    p99Ms: round(run.latency.getValueAtPercentile(99) / 1000),
    lockBusyWhileStock: busyFinal + (run.retryableSeen.LOCK_BUSY ?? 0),
    soldOutAnswersPerSecond: null,
    checksPassed: checks.every((c) => c.passed),
    failedChecks: checks.filter((c) => !c.passed).map((c) => c.name),
  };
  run.latency.destroy();
  return row;
}

/**
 * One claim per user, `concurrency` in flight, counting answers per second: B's sold-out pass
 * and row D both use exactly this loop (and the same users, tokens, body and route path), so
 * the load tool, which shares the 2 cores, costs both sides of that ratio alike. It keeps no
 * per-answer records, so the tool is as light as it can be and D is not held down by it.
 */
async function answerPass(
  http: HttpPool,
  coupon: string,
  users: SaleUser[],
  concurrency: number,
  expected: (answer: HttpAnswer) => boolean,
): Promise<{ perSecond: number; other: number }> {
  let matched = 0;
  let other = 0;
  const started = performance.now();
  await runBounded(users, concurrency, async (user) => {
    const answer = await http.request('POST', '/api/coupons/claim', { coupon_name: coupon }, user.token);
    if (expected(answer)) matched++;
    else other++;
  });
  return { perSecond: matched / ((performance.now() - started) / 1000), other };
}

/**
 * Row C: pgbench running the bare claim transaction (conditional decrement + insert) on one
 * hot coupon row, in a throwaway database with the real schema.
 */
async function preparePgbench(): Promise<{
  measure: (concurrency: number) => Promise<{ tps: number; clients: number }>;
  drop: () => Promise<void>;
}> {
  const base = loadConfig();
  const url = new URL(base.DATABASE_URL);
  url.pathname = `/coupons_bench_${Date.now().toString(36)}`;
  const config = loadConfig({ DATABASE_URL: url.toString() }, {});
  await ensureDatabaseExists(config);
  const dataSource = createDataSource(config);
  await dataSource.initialize();
  await runMigrations(dataSource);
  await dataSource.query(`INSERT INTO users (username, password_hash) SELECT 'pgb' || i, 'x' FROM generate_series(1, 400000) i`);
  await dataSource.query(`INSERT INTO coupons (name, amount, remaining_amount) VALUES ('HOT', 1000000, 1000000)`);
  await dataSource.query(`CREATE SEQUENCE bench_claimant START 1`);
  const [{ id }] = await dataSource.query(`SELECT id FROM coupons WHERE name = 'HOT'`);
  const script = join(mkdtempSync(join(tmpdir(), 'pgbench-')), 'claim.sql');
  writeFileSync(
    script,
    [
      'BEGIN;',
      `UPDATE coupons SET remaining_amount = remaining_amount - 1 WHERE id = ${id} AND remaining_amount > 0;`,
      `INSERT INTO user_claims (user_id, coupon_id) VALUES (nextval('bench_claimant'), ${id});`,
      'COMMIT;',
      '',
    ].join('\n'),
  );
  return {
    measure: async (concurrency) => {
      // PostgreSQL here allows 100 connections, shared with the services under test.
      const [{ free }] = await dataSource.query(
        `SELECT current_setting('max_connections')::int - count(*)::int - 10 AS free FROM pg_stat_activity`,
      );
      const clients = Math.max(1, Math.min(concurrency, PGBENCH_MAX_CLIENTS, free));
      const output = execFileSync(
        'pgbench',
        ['-n', '-c', String(clients), '-j', '2', '-T', String(PGBENCH_SECONDS), '-f', script, url.toString()],
        { encoding: 'utf8' },
      );
      const tps = round(Number(/tps = ([\d.]+)/.exec(output)?.[1]));
      log(`C concurrency ${concurrency} (${clients} clients): ${tps} tps`);
      return { tps, clients };
    },
    drop: async () => {
      await dataSource.destroy();
      await dropDatabase(url.toString());
    },
  };
}

/**
 * Row D: a constant endpoint of the same framework and adapter, on the claim route's path,
 * driven by the same loop, users, tokens and body as B's sold-out pass (answerPass).
 */
async function startConstantEndpoint(users: SaleUser[]): Promise<{ measure: (concurrency: number) => Promise<number>; stop: () => void }> {
  const app = await startBareApp();
  const http = new HttpPool([app.url], Math.max(...CONCURRENCY), 30_000);
  const ok = (answer: HttpAnswer) => answer.status === 200;
  await answerPass(http, 'CONSTANT', users.slice(0, 2000), Math.max(...CONCURRENCY), ok);
  return {
    measure: async (concurrency) => {
      const perSecond = round((await answerPass(http, 'CONSTANT', users, concurrency, ok)).perSecond);
      log(`D concurrency ${concurrency}: ${perSecond} req/s`);
      return perSecond;
    },
    stop: () => {
      void http.close();
      app.stop();
    },
  };
}

const round = (n: number) => Math.round(n * 10) / 10;
const isCheapAnswer = (answer: HttpAnswer) => answer.body?.code === 'SOLD_OUT' || answer.body?.code === 'ALREADY_CLAIMED';
/** Turns of one sold-out pass and one D pass per row (at least 1). */
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3) || 1);

/** stdout carries only the table or the --json object; Nest's logs (database set-up for C) go to stderr. */
class StderrLogger extends ConsoleLogger {
  protected override printMessages(
    messages: unknown[],
    context?: string,
    logLevel?: LogLevel,
    _stream?: 'stdout' | 'stderr',
    errorStack?: unknown,
  ): void {
    super.printMessages(messages, context, logLevel, 'stderr', errorStack);
  }
}

/** `--json` prints the result object instead of the table; `--report PATH.html` also writes it as a page of charts. */
function parseBenchArgs(argv: string[]): { json: boolean; reportPath: string | null } {
  const args = { json: false, reportPath: null as string | null };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split(/=(.*)/s);
    if (flag === '--json') args.json = true;
    else if (flag === '--report' && (inline ?? argv[i + 1])) args.reportPath = inline ?? argv[++i];
    else throw new Error(`unknown option ${argv[i]} (bench knows --json and --report PATH.html)`);
  }
  return args;
}

type Services = Record<Variant, PreparedService>;
type ConstantEndpoint = Awaited<ReturnType<typeof startConstantEndpoint>>;

/** Rows A, B, C and D (with N and R in the sold-out turns) for every stock and concurrency, and the pgbench clients each row used. */
async function measureServiceRows(): Promise<{ rows: BenchRow[]; pgbenchClients: Map<string, number> }> {
  // A, B and D stay up together and are measured turn by turn, so that a slow moment on
  // this shared machine hits both sides of a ratio alike.
  const services: Services = {
    A: await prepareService('A'),
    B: await prepareService('B'),
    N: await prepareService('N'),
    R: await prepareService('R'),
  };
  const constant = await startConstantEndpoint(services.B.users);
  const pgbench = await preparePgbench();
  const rows: BenchRow[] = [];
  const pgbenchClients = new Map<string, number>();
  try {
    for (const stock of STOCKS) {
      for (const concurrency of CONCURRENCY) {
        const a = await measureVariant(services.A, stock, concurrency);
        const b = await measureVariant(services.B, stock, concurrency);
        const soldOut = stock < USERS ? await soldOutTurns(services, constant, b, stock, concurrency) : null;
        const dRequestsPerSecond = soldOut ? soldOut.constant : await constant.measure(concurrency);
        const c = await pgbench.measure(concurrency);
        pgbenchClients.set(`${stock}/${concurrency}`, c.clients);
        rows.push({
          stock,
          concurrency,
          a,
          b,
          cTps: c.tps,
          dRequestsPerSecond,
          soldOutWithoutFastPath: soldOut?.withoutFastPath ?? null,
          soldOutReusingRead: soldOut?.reusedRead ?? null,
        });
      }
    }
  } finally {
    constant.stop();
    await pgbench.drop();
    for (const service of Object.values(services)) await service.stop();
  }
  return { rows, pgbenchClients };
}

/**
 * N and R sell the same coupon as B, then everyone asks again after the sell-out (SOLD_OUT or
 * ALREADY_CLAIMED, the cheap answers), turn by turn with D. This shared machine's speed swings
 * by 2x within a minute, so both numbers of a row come from one turn: the turn with the median
 * ratio. The order alternates, so neither side always runs right after B's own sale. Sets
 * B's soldOutAnswersPerSecond and adds N's and R's failed checks to B's row.
 */
async function soldOutTurns(
  services: Services,
  constant: ConstantEndpoint,
  row: ServiceRow,
  stock: number,
  concurrency: number,
): Promise<{ soldOut: number; withoutFastPath: number; reusedRead: number; constant: number }> {
  for (const other of [services.N, services.R]) {
    const sale = await measureVariant(other, stock, concurrency);
    row.failedChecks.push(...sale.failedChecks.map((check) => `${other.variant}: ${check}`));
  }
  const soldOutPass = async (service: PreparedService) => {
    const pass = await answerPass(service.http, couponOf(service.variant, stock, concurrency), service.users, concurrency, isCheapAnswer);
    if (pass.other > 0) row.failedChecks.push(`${service.variant} sold-out pass answered something other than SOLD_OUT/ALREADY_CLAIMED`);
    return pass.perSecond;
  };
  const turns: { soldOut: number; withoutFastPath: number; reusedRead: number; constant: number }[] = [];
  for (let turn = 0; turn < ROUNDS; turn++) {
    const soldOutFirst = turn % 2 === 0;
    let constantRate = soldOutFirst ? 0 : await constant.measure(concurrency);
    const soldOut = await soldOutPass(services.B);
    const withoutFastPath = await soldOutPass(services.N);
    const reusedRead = await soldOutPass(services.R);
    if (soldOutFirst) constantRate = await constant.measure(concurrency);
    turns.push({ soldOut, withoutFastPath, reusedRead, constant: constantRate });
  }
  const ratio = (t: { soldOut: number; constant: number }) => t.soldOut / t.constant;
  const middle = [...turns].sort((x, y) => ratio(x) - ratio(y))[Math.floor(turns.length / 2)];
  log(
    `sold-out (B, N, R)/D turns at concurrency ${concurrency}: ${turns.map((t) => `${round(t.soldOut)},${round(t.withoutFastPath)},${round(t.reusedRead)}/${round(t.constant)}`).join('; ')}`,
  );
  row.soldOutAnswersPerSecond = round(middle.soldOut);
  return {
    soldOut: round(middle.soldOut),
    withoutFastPath: round(middle.withoutFastPath),
    reusedRead: round(middle.reusedRead),
    constant: round(middle.constant),
  };
}

const targetLines = (targets: BenchTarget[]) => targets.map((t) => `- ${t.passed ? 'PASS' : 'FAIL'} ${t.name}: ${t.detail}`).join('\n');

async function main(): Promise<void> {
  const args = parseBenchArgs(process.argv.slice(2));
  Logger.overrideLogger(new StderrLogger());
  const started = new Date();
  const load = loadavg()[0].toFixed(2);
  if (process.env.BENCH_ROWS === 'crowds') {
    // Only the crowd rows, printed, nothing written: for working on them.
    const crowds = await measureCrowds(log);
    process.stdout.write(
      args.json ? JSON.stringify(crowds, null, 2) + '\n' : `${crowdsTables(crowds)}\n\n${targetLines(crowds.targets)}\n`,
    );
    process.exit(crowds.targets.every((t) => t.passed) ? 0 : 1);
  }
  requireWrk(); // the storm rows need it: fail now, not after the rows before them
  log(`users ${USERS}, stocks ${STOCKS.join('/')}, concurrency ${CONCURRENCY.join('/')}`);
  const { rows, pgbenchClients } = await measureServiceRows();
  // Run alone after the A/B/C/D services stopped: 4,096 connections and a second service would skew them.
  const crowds = await measureCrowds(log);
  // Its own service and its own turns: one client flooding registration or login.
  const floods = await measureFloodRows(log);
  // The sale-start rows (the sweep is in the crowd rows already).
  const storms = await measureStormRows(log, new Set(STORM_ROWS.filter((row) => row !== 'sweep')));
  // Its own service: the same sale and sold-out pass with and without an Idempotency-Key.
  const keys = await measureKeyRows(log);
  const targets = [...benchTargets(rows), ...floodTargets(floods), ...crowds.targets, ...storms.targets, ...keyTargets(keys)];
  const result: BenchResult & { floods: FloodResult; crowds: CrowdsResult; storms: StormRowsResult; keys: KeyRowsResult } = {
    startedAt: started.toISOString(),
    machine: `${cpus().length} cores (${cpus()[0]?.model ?? 'cpu'}), Node ${process.version}, load average ${load} at start`,
    users: USERS,
    pgbenchMaxClients: PGBENCH_MAX_CLIENTS,
    rows,
    floods,
    crowds,
    storms,
    keys,
    targets,
    passed: targets.every((t) => t.passed),
  };
  const table = `${benchTable(rows)}\n\n${crowdsTables(crowds)}\n\n${storms.markdown}`;
  process.stdout.write(args.json ? JSON.stringify(result, null, 2) + '\n' : `${table}\n\n${targetLines(targets)}\n`);
  if (args.reportPath) {
    writeFileSync(args.reportPath, renderBenchReport(result));
    log(`wrote the HTML report to ${args.reportPath}`);
  }
  writeFileSync(join(projectRoot(), 'documentation', 'results', 'benchmarks.md'), benchmarksMarkdown(result, table, pgbenchClients));
  log('wrote documentation/results/benchmarks.md');
  process.exit(result.passed ? 0 : 1);
}

/** documentation/results/benchmarks.md: how the rows were measured, the tables and the targets. */
function benchmarksMarkdown(
  result: BenchResult & { floods: FloodResult; crowds: CrowdsResult; storms: StormRowsResult; keys: KeyRowsResult },
  table: string,
  pgbenchClients: Map<string, number>,
): string {
  const { crowds, floods, keys, machine, targets } = result;
  const started = new Date(result.startedAt);
  return `# Benchmarks

Reproduce with \`npm run bench\` (writes this file; the crowd rows add about 3 minutes to the A/B/C/D rows). \`npm run bench -- --json\`
prints the measured rows and targets as JSON; \`npm run bench -- --report PATH.html\` also writes
them as one self-contained page of charts (A/B/C/D side by side, ratios on the bars;
[bench-report.png](../bench-report.png) is the page of a full run, rendered by headless Chromium; more in
[stress.md](../stress.md#html-report)). Last run: ${started.toISOString()},
${machine}. ${USERS} users per sale; the load tool is the stress tool's (keep-alive, bounded
concurrency) in the same run for every row.

- **A**: the service with \`CLAIM_BATCH_SIZE=1\`: one claim per lock and per transaction.
- **B**: the service as shipped (\`CLAIM_BATCH_SIZE=200\`, sold-out answers from memory, the
  sold-out fast path on).
- **N**: B with \`CLAIM_FAST_PATH=false\` (every claim through Nest's pipeline), measured only in
  the sold-out turns, to show what the fast path is worth ("no-hook ans/s").
- **R**: B with \`SOLD_OUT_READ_REUSE_MS=100\` (one stock read answers refusals for 100 ms; admin
  changes wait 100 ms before their 200), measured only in the sold-out turns: the other way to
  keep refusals true ("reuse ans/s"; see decisions.md).
- **C**: \`pgbench\` running the bare claim transaction (conditional decrement + insert) on one
  hot coupon row, at the same concurrency capped at ${PGBENCH_MAX_CLIENTS} clients and at the
  connections left free (this PostgreSQL allows 100, shared with the services under test):
  the database-serial ceiling. Clients used per row: ${[...pgbenchClients.entries()].map(([k, v]) => `${k}: ${v}`).join(', ')}.
- **D**: a constant POST endpoint on the same NestJS + Fastify set-up and the claim route's path
  (\`bench/constant-endpoint.ts\`), driven by the same loop as B's sold-out pass (same users,
  tokens and body, no per-answer records): the HTTP ceiling of this machine.

"grants/s" counts 200s per second until the stock was gone (the whole run when stock = users).
"sold-out ans/s": after the sale every user claims the sold-out coupon again (\`SOLD_OUT\` or
\`ALREADY_CLAIMED\`). It runs in ${ROUNDS} turns, each one such pass and one pass of D (the order
alternating; N's and R's passes right after B's), and the row shows the numbers of the turn with the median B/D ratio: this shared
machine's speed swings by up to 2x within a minute, so only numbers from one moment compare. "LOCK_BUSY" counts LOCK_BUSY answers and retries seen
before the sell-out. Every A and B row also ran the stress tool's checks (no oversell, no
double claim, API and database agree with the 200s).

The crowd rows (\`bench/crowds.ts\`, after A/B/C/D have stopped; ${crowds.users} users, stock ${crowds.stock}):

- **Concurrency sweep**: the shipped service, one sale per row at 64, 256, 1,024 and 4,096
  requests in flight, each row on a fresh connection pool (the crowd connects during the
  sale). "listen overflows" is the growth of the kernel's \`TcpExt ListenOverflows\` during the
  row (\`/proc/net/netstat\`, machine-wide: another process's drops would count too); "API peak
  RSS" the API process's highest resident memory, sampled every 100 ms.
- **Many coupons**: the same total stock as ${crowds.manyCoupons.find((r) => r.coupons > 1)?.coupons ?? '-'} coupons or as one, each user claiming one
  (\`npm run stress -- --coupons N\`), alternating, twice each; every check runs per coupon.
- **One hop away**: A and B with their PostgreSQL and Redis connections through a loopback proxy
  that holds every chunk 0 ms, then 1 ms, each way (\`harness/tcp-proxy.ts\`).
- **Per-request tax**: \`GET /api/healthcheck/live\` on a bare NestJS + Fastify app with that one
  route (\`bench/constant-endpoint.ts\`) and on the service at \`LOG_LEVEL=info\` (its log lines to
  /dev/null, as to a log shipper), ${crowds.tax.length} alternating turns; the target uses the median turn.

${table}

## Floods

${floodTable(floods)}

\`bench/flood-rows.ts\`: a sold-out coupon and ${floods.claimers} users claiming it in a loop,
while one client (its own process, \`bench/flood-client.ts\`) keeps ${floods.floodConcurrency} registrations,
or wrong-password logins for ever new usernames, in flight, waiting each answer's \`Retry-After\`.
The flooding process is paused and resumed (SIGSTOP/SIGCONT) so that ${floods.slices} quiet and
${floods.slices} flooded slices of ${floods.secondsPerPass} s alternate within seconds; the row is the
mean of each side. The service runs at \`BCRYPT_COST\` ${floods.bcryptCost} with the default hashing
bound (${floods.bcryptConcurrent} at once on this machine) and the per-address registration and login
limits off, so the flood reaches the hashing as one spread over many addresses would.

## Idempotency-Key

${keyRowsTable(keys)}

\`bench/idempotency-rows.ts\` (alone: \`npm run bench:keys\`): one service as shipped and ${keys.users} users. Each of
${keys.turns.length} turns sells one coupon (stock ${keys.stock}) with no key on any claim and one with a fresh
\`Idempotency-Key\` on every claim, the order alternating, then every user claims both sold-out
coupons once more, without keys and with a fresh key each (so every keyed refusal is written under
its key). Each line shows the turn with the median ratio of that line.

## Targets

${targetLines(targets)}

All processes (load tool, API, PostgreSQL, Redis) share the same 2 cores, so absolute numbers
move with whatever else runs; the ratios measured in one run are the result. What each target
costs, and how the sold-out ratio spreads between runs: [performance.md](../performance.md).
`;
}

main().catch((error) => {
  process.stderr.write(`bench: ${(error as Error).stack}\n`);
  process.exit(2);
});
