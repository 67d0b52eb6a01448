import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig, projectRoot, redisUrls } from '../src/config/config.loader';
import { SaleRun, runSale } from '../harness/claim-runner';
import { HttpPool, runBounded } from '../harness/http-pool';
import { checkSales } from '../harness/sale-checks';
import { ServiceGroup, startServiceGroup } from '../harness/self-hosted-service';
import { couponSales, splitStock } from '../harness/coupon-sales';
import { TcpProxy } from '../harness/tcp-proxy';
import { SaleUser, login, seedUsers } from '../harness/user-seeder';
import { CrowdsResult, LatencyRow, ManyCouponsRow, SweepRow, TaxTurn, crowdsTargets } from './crowds-result';

/**
 * The crowd rows of `npm run bench`: a concurrency sweep up to 4,096 in flight, 50 coupons
 * against 1, PostgreSQL and Redis one (delayed) network hop away, and the per-request tax of the
 * service against a bare NestJS + Fastify app. Each row sells a fresh coupon to the same users.
 */
const USERS = Number(process.env.BENCH_CROWD_USERS ?? 8_000);
const STOCK = Math.floor(USERS / 2);
export const SWEEP = [64, 256, 1024, 4096];
const MANY_COUPONS = 50;
const LATENCY_USERS = Math.min(USERS, 2_000);
const LATENCY_STOCK = Math.floor(LATENCY_USERS / 2);
/** A settles one claim per lock and transaction: about 14 grants/s at 1 ms each way here, so it sells less to keep the row short. */
const LATENCY_STOCK_A = Math.floor(LATENCY_STOCK / 5);
const LATENCY_DELAYS_MS = [0, 1];
const TAX_REQUESTS = Number(process.env.BENCH_TAX_REQUESTS ?? 20_000);
const TAX_CONCURRENCY = 256;
const TAX_TURNS = 3;
/** Which crowd rows to run (comma-separated: sweep, coupons, latency, tax; all when unset): for working on one of them. */
const CROWD_ROWS = new Set((process.env.BENCH_CROWD_ROWS ?? 'sweep,coupons,latency,tax').split(',').map((row) => row.trim()));

type Log = (line: string) => void;
const round = (n: number) => Math.round(n * 10) / 10;

/** The kernel's count of connections dropped because a listen queue was full (machine-wide, since boot). */
export function listenOverflows(netstat = readFileSync('/proc/net/netstat', 'utf8')): number {
  const lines = netstat.split('\n').filter((line) => line.startsWith('TcpExt:'));
  const names = lines[0].split(/\s+/);
  const values = lines[1].split(/\s+/);
  return Number(values[names.indexOf('ListenOverflows')]);
}

function residentMb(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Math.round(Number(match[1]) / 1024) : 0;
}

interface Prepared {
  group: ServiceGroup;
  admin: string;
  users: SaleUser[];
}

async function prepare(
  name: string,
  users: number,
  env: Record<string, string>,
  options: Parameters<typeof startServiceGroup>[3] = {},
): Promise<Prepared> {
  const group = await startServiceGroup(1, env, undefined, options);
  const http = new HttpPool([group.url], 64, 60_000);
  try {
    const admin = await login(http, group.adminUser, group.adminPassword);
    const seeded = await seedUsers({
      http,
      databaseUrl: group.databaseUrl,
      prefix: `crowd${name}_`,
      count: users,
      password: 'bench-password-1',
      concurrency: 64,
    });
    // Warm the claim path before anything is measured.
    await http.request('POST', '/api/coupons', { name: `WARMUP_${name}`, amount: 100 }, admin);
    await runBounded(seeded.users.slice(0, 1000), 64, async (user) => {
      await http.request('POST', '/api/coupons/claim', { coupon_name: `WARMUP_${name}` }, user.token);
    });
    return { group, admin, users: seeded.users };
  } finally {
    await http.close();
  }
}

/** One sale of `coupons` coupons (total `stock`) to `users`, on a fresh connection pool, with every stress check. */
async function sale(
  service: Prepared,
  couponName: string,
  users: SaleUser[],
  stock: number,
  concurrency: number,
  coupons = 1,
): Promise<{ run: SaleRun; failedChecks: string[]; couponsSoldOut: number }> {
  // A fresh pool per row: the crowd connects during the sale, as real clients do.
  const http = new HttpPool([service.group.url], concurrency, 60_000);
  try {
    const split = splitStock(couponName, stock, coupons);
    for (const c of split) await http.request('POST', '/api/coupons', { name: c.name, amount: c.stock }, service.admin);
    const run = await runSale({
      http,
      couponName,
      coupons: split.map((c) => c.name),
      users,
      stock,
      concurrency,
      doubleDip: 0,
      seed: 7,
      durationSeconds: 300,
      retries: 5,
      retryDelayMs: 100,
    });
    const sales = await couponSales(http, service.admin, service.group.databaseUrl, split, run.records);
    const checks = checkSales({ records: run.records, coupons: sales, doubleDip: 0, dipper: users[0].username });
    const couponsSoldOut = sales.filter((s) => (s.database ?? s.coupon)?.remaining_amount === 0).length;
    return { run, failedChecks: checks.filter((c) => !c.passed).map((c) => c.name), couponsSoldOut };
  } finally {
    await http.close();
  }
}

const grantsPerSecond = (run: SaleRun) =>
  round(run.records.filter((r) => r.status === 200).length / ((run.soldOutAtMs ?? run.durationMs) / 1000));
const ms = (micros: number) => round(micros / 1000);

/** One sale of the sweep; `index` numbers the sales, so the way back down sells coupons of its own. */
async function sweepRow(service: Prepared, concurrency: number, index: number): Promise<SweepRow> {
  const pid = service.group.processes[0].pid;
  let peakRss = residentMb(pid);
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, residentMb(pid))), 100);
  const overflowsBefore = listenOverflows();
  const { run, failedChecks } = await sale(service, `SWEEP_${concurrency}_${index}`, service.users, STOCK, concurrency);
  const overflows = listenOverflows() - overflowsBefore;
  clearInterval(sampler);
  const soldOut = run.soldOutAtMs;
  const afterSoldOut = soldOut === null ? [] : run.records.filter((r) => r.answeredAtMs > soldOut);
  const row: SweepRow = {
    concurrency,
    grantsPerSecond: grantsPerSecond(run),
    p50Ms: ms(run.latency.getValueAtPercentile(50)),
    p99Ms: ms(run.latency.getValueAtPercentile(99)),
    maxMs: ms(run.latency.maxValue),
    meanMs: ms(run.latency.mean),
    listenOverflows: overflows,
    apiPeakRssMb: peakRss,
    soldOutAnswersPerSecond:
      soldOut === null || run.durationMs - soldOut < 50 ? null : round(afterSoldOut.length / ((run.durationMs - soldOut) / 1000)),
    failedChecks,
  };
  run.latency.destroy();
  return row;
}

/** Requests per second of GET `path`, `count` of them with `concurrency` in flight. */
async function getPass(http: HttpPool, path: string, count: number, concurrency: number): Promise<{ perSecond: number; failed: number }> {
  let failed = 0;
  const started = performance.now();
  await runBounded(Array.from({ length: count }), concurrency, async () => {
    if ((await http.request('GET', path)).status !== 200) failed++;
  });
  return { perSecond: round(count / ((performance.now() - started) / 1000)), failed };
}

/** Starts bench/constant-endpoint.ts (a bare NestJS + Fastify app) on a free loopback port: row D and the tax row. */
export async function startBareApp(): Promise<{ url: string; pid: number; stop: () => void }> {
  const child = spawn(process.execPath, [join(projectRoot(), 'dist', 'bench', 'constant-endpoint.js'), '0'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.on('data', (chunk) => {
      const match = /listening (\d+)/.exec(String(chunk));
      if (match) resolve(Number(match[1]));
    });
    child.on('exit', (code) => reject(new Error(`bare app exited ${code}`)));
  });
  return { url: `http://127.0.0.1:${port}`, pid: child.pid!, stop: () => child.kill('SIGTERM') };
}

/**
 * Bare app and service, GET /api/healthcheck/live, turn by turn with the order alternating;
 * the service at LOG_LEVEL=info with its log lines going to /dev/null, as to a log shipper.
 */
async function measureTax(log: Log): Promise<TaxTurn[]> {
  const bare = await startBareApp();
  // As deployed: NODE_ENV=production writes JSON lines (development pretty-prints them in a worker thread).
  const group = await startServiceGroup(1, { LOG_LEVEL: 'info', NODE_ENV: 'production' }, undefined, { stdout: 'discard' });
  const bareHttp = new HttpPool([bare.url], TAX_CONCURRENCY, 30_000);
  const serviceHttp = new HttpPool([group.url], TAX_CONCURRENCY, 30_000);
  const path = '/api/healthcheck/live';
  try {
    await getPass(bareHttp, path, 5_000, TAX_CONCURRENCY);
    await getPass(serviceHttp, path, 5_000, TAX_CONCURRENCY);
    const turns: TaxTurn[] = [];
    for (let turn = 0; turn < TAX_TURNS; turn++) {
      const bareFirst = turn % 2 === 0;
      const first = await getPass(bareFirst ? bareHttp : serviceHttp, path, TAX_REQUESTS, TAX_CONCURRENCY);
      const second = await getPass(bareFirst ? serviceHttp : bareHttp, path, TAX_REQUESTS, TAX_CONCURRENCY);
      const [b, s] = bareFirst ? [first, second] : [second, first];
      turns.push({ bareRequestsPerSecond: b.perSecond, serviceRequestsPerSecond: s.perSecond, failed: b.failed + s.failed });
      log(`tax turn ${turn + 1}: bare ${b.perSecond} req/s, service ${s.perSecond} req/s (${(s.perSecond / b.perSecond).toFixed(2)}x)`);
    }
    return turns;
  } finally {
    await bareHttp.close();
    await serviceHttp.close();
    bare.stop();
    await group.stop();
  }
}

/** A and B with PostgreSQL and Redis behind delaying proxies, at each delay in turn (same services, same connections). */
async function measureLatency(log: Log): Promise<LatencyRow[]> {
  const config = loadConfig();
  const database = new URL(config.DATABASE_URL);
  const redis = new URL(redisUrls(config)[0]);
  const variants = [
    { variant: 'A' as const, env: { CLAIM_BATCH_SIZE: '1' } as Record<string, string> },
    { variant: 'B' as const, env: {} as Record<string, string> },
  ];
  const prepared: { variant: 'A' | 'B'; service: Prepared; proxies: TcpProxy[] }[] = [];
  const rows: LatencyRow[] = [];
  try {
    for (const { variant, env } of variants) {
      const pg = await TcpProxy.start(database.hostname, Number(database.port || 5432));
      const rd = await TcpProxy.start(redis.hostname, Number(redis.port || 6379));
      const service = await prepare(
        `lat${variant}`,
        LATENCY_USERS,
        { ...env, REDIS_URLS: `redis://127.0.0.1:${rd.port}` },
        { databasePort: pg.port },
      );
      prepared.push({ variant, service, proxies: [pg, rd] });
    }
    for (const delayMs of LATENCY_DELAYS_MS) {
      for (const { variant, service, proxies } of prepared) {
        for (const proxy of proxies) proxy.setDelay(delayMs);
        const { run, failedChecks } = await sale(
          service,
          `LATENCY_${delayMs}`,
          service.users,
          variant === 'A' ? LATENCY_STOCK_A : LATENCY_STOCK,
          256,
        );
        const row: LatencyRow = {
          variant,
          delayMs,
          stock: variant === 'A' ? LATENCY_STOCK_A : LATENCY_STOCK,
          grantsPerSecond: grantsPerSecond(run),
          p99Ms: ms(run.latency.getValueAtPercentile(99)),
          failedChecks,
        };
        run.latency.destroy();
        log(`latency ${variant} ${delayMs} ms each way: ${JSON.stringify(row)}`);
        rows.push(row);
      }
    }
    return rows;
  } finally {
    for (const { service, proxies } of prepared) {
      for (const proxy of proxies) proxy.setDelay(0);
      await service.group.stop();
      for (const proxy of proxies) await proxy.close();
    }
  }
}

export async function measureCrowds(log: Log, rows: Set<string> = CROWD_ROWS): Promise<CrowdsResult> {
  log(`crowds: ${USERS} users, stock ${STOCK}, sweep ${SWEEP.join('/')} in flight; rows ${[...rows].join(', ')}`);
  const sweep: SweepRow[] = [];
  const manyCoupons: ManyCouponsRow[] = [];
  if (rows.has('sweep') || rows.has('coupons')) {
    const service = await prepare('B', USERS, {});
    try {
      // A whole sale first, unmeasured: the service's first sales run slower than later ones
      // (measured: 3,545 grants/s at 64 in flight on a fresh service, 5,188 at the end of the
      // sweep), and a cold first run would flatter every ratio against it.
      if (rows.has('sweep')) await sale(service, 'SWEEP_WARM_UP', service.users, STOCK, SWEEP[1]);
      // Up the sweep, then down again: each concurrency is measured early and late, so a slow
      // moment of this shared machine does not land on one end of the ratio alone.
      for (const concurrency of rows.has('sweep') ? [...SWEEP, ...[...SWEEP].reverse()] : []) {
        const row = await sweepRow(service, concurrency, sweep.length);
        log(`sweep ${concurrency}: ${JSON.stringify(row)}`);
        sweep.push(row);
      }
      for (const coupons of rows.has('coupons') ? [1, MANY_COUPONS, 1, MANY_COUPONS] : []) {
        const { run, failedChecks, couponsSoldOut } = await sale(
          service,
          `MANY_${coupons}_${manyCoupons.length}`,
          service.users,
          STOCK,
          256,
          coupons,
        );
        const row: ManyCouponsRow = {
          coupons,
          stock: STOCK,
          grantsPerSecond: grantsPerSecond(run),
          p99Ms: ms(run.latency.getValueAtPercentile(99)),
          couponsSoldOut,
          failedChecks,
        };
        run.latency.destroy();
        log(`coupons ${coupons}: ${JSON.stringify(row)}`);
        manyCoupons.push(row);
      }
    } finally {
      await service.group.stop();
    }
  }
  const latency = rows.has('latency') ? await measureLatency(log) : [];
  const tax = rows.has('tax') ? await measureTax(log) : [];
  const result = { users: USERS, stock: STOCK, latencyUsers: LATENCY_USERS, latencyStock: LATENCY_STOCK, sweep, manyCoupons, latency, tax };
  return { ...result, targets: crowdsTargets(result) };
}
