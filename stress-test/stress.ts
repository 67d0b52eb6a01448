import { Client } from 'pg';
import { runSale } from './claim-runner';
import { HttpPool } from './http-pool';
import { StressOptions } from './options';
import { progressPrinter } from './progress';
import { CouponSnapshot, DatabaseSnapshot, checkSale } from './sale-checks';
import { SaleReport, buildReport } from './sale-report';
import { SelfHostedService, startSelfHostedService } from './self-hosted-service';
import { login, seedUsers } from './user-seeder';

export type Log = (line: string) => void;

/** One complete stress run: set up, sell, check, tear down. */
export async function runStress(options: StressOptions, log: Log): Promise<SaleReport> {
  let service: SelfHostedService | null = null;
  if (!options.urls) {
    log('starting the built service on a throwaway database...');
    service = await startSelfHostedService(options.serviceEnv);
  }
  const urls = service ? [service.url] : options.urls!;
  const databaseUrl = service ? service.databaseUrl : options.databaseUrl;
  const http = new HttpPool(urls, Math.max(1, Math.ceil(Math.max(options.concurrency, options.doubleDip) / urls.length)), options.requestTimeoutMs);
  try {
    const runId = Date.now().toString(36);
    const couponName = options.couponName ?? `STRESS_${options.seed}_${runId}`;
    const adminToken = await login(http, service?.adminUser ?? options.adminUser, service?.adminPassword ?? options.adminPassword!);
    const created = await http.request('POST', '/api/coupons', { name: couponName, amount: options.stock }, adminToken);
    if (created.status !== 201) throw new Error(`creating coupon ${couponName} failed: ${created.status} ${JSON.stringify(created.body)}`);

    const started = Date.now();
    log(`making ${options.users} users...`);
    const { users, method } = await seedUsers({
      http,
      databaseUrl,
      prefix: `st${runId}_`,
      count: options.users,
      password: `stress-${runId}-password`,
      concurrency: Math.min(options.concurrency, 64),
    });
    log(`${users.length} users ready in ${((Date.now() - started) / 1000).toFixed(1)} s (${method}); the sale starts`);

    const progress = progressPrinter(options.stock);
    const run = await runSale({
      http,
      couponName,
      users,
      stock: options.stock,
      concurrency: options.concurrency,
      doubleDip: options.doubleDip,
      seed: options.seed,
      durationSeconds: options.durationSeconds,
      retries: options.retries,
      retryDelayMs: options.retryDelayMs,
      onProgress: progress.update,
    });
    progress.done();

    const couponAnswer = await http.request('GET', `/api/coupons/${couponName}`, undefined, users[0].token);
    const coupon = couponAnswer.status === 200 ? (couponAnswer.body as CouponSnapshot) : null;
    const database = databaseUrl ? await databaseSnapshot(databaseUrl, couponName) : null;
    const checks = checkSale({
      records: run.records,
      stock: options.stock,
      userCount: users.length,
      doubleDip: options.doubleDip,
      dipper: users[0].username,
      coupon,
      database,
    });
    const report = buildReport(
      run,
      {
        targets: urls,
        selfHosted: service !== null,
        coupon: couponName,
        users: options.users,
        stock: options.stock,
        concurrency: options.concurrency,
        doubleDip: options.doubleDip,
        seed: options.seed,
        userSeeding: method === 'bulk-insert' ? 'bulk insert (one bcrypt hash, cost 4) + real logins' : 'API registration + real logins',
      },
      checks,
    );
    run.latency.destroy();
    return report;
  } finally {
    await http.close();
    if (service) await service.stop();
  }
}

/** A coupon's amount, stock, claim rows and distinct holders: what the three promises are judged on. */
export const DATABASE_SNAPSHOT_SQL = `SELECT c.amount, c.remaining_amount,
       (SELECT count(*)::int FROM user_claims uc WHERE uc.coupon_id = c.id) AS rows,
       (SELECT count(DISTINCT user_id)::int FROM user_claims uc WHERE uc.coupon_id = c.id) AS distinct_users
  FROM coupons c WHERE c.name = $1`;

export async function databaseSnapshot(url: string, couponName: string): Promise<DatabaseSnapshot | null> {
  const db = new Client({ connectionString: url });
  try {
    await db.connect();
    const { rows } = await db.query(DATABASE_SNAPSHOT_SQL, [couponName]);
    return rows[0] ?? null;
  } finally {
    await db.end().catch(() => undefined);
  }
}
