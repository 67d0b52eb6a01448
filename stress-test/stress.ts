import { claimPlan, runSale } from '../harness/claim-runner';
import { couponSales, splitStock } from '../harness/coupon-sales';
import { holdersOf } from '../harness/database-checks';
import { EventQueue, saleEventChecks } from '../harness/event-queue';
import { HttpPool } from '../harness/http-pool';
import { checkKeyedClaims } from '../harness/idempotency-checks';
import { checkSales } from '../harness/sale-checks';
import { SaleReport, buildReport } from '../harness/sale-report';
import { SelfHostedService, startSelfHostedService } from '../harness/self-hosted-service';
import { login, seedUsers } from '../harness/user-seeder';
import { StressOptions } from './options';
import { progressPrinter } from './progress';

export type Log = (line: string) => void;

/** One complete stress run: set up, sell, check, tear down. */
export async function runStress(options: StressOptions, log: Log): Promise<SaleReport> {
  let service: SelfHostedService | null = null;
  // Bound before the service starts, so that no event (coupon.created first) goes by unseen.
  const events = options.events ? await EventQueue.open('stress', options.urls ? options.events : undefined) : null;
  if (!options.urls) {
    log('starting the built service on a throwaway database...');
    const eventsEnv: Record<string, string> = events ? { EVENTS_URL: options.events!.url, EVENTS_EXCHANGE: events.exchange } : {};
    service = await startSelfHostedService({ ...eventsEnv, ...options.serviceEnv }).catch(async (error) => {
      await events?.delete();
      throw error;
    });
  }
  const urls = service ? [service.url] : options.urls!;
  const databaseUrl = service ? service.databaseUrl : options.databaseUrl;
  const http = new HttpPool(
    urls,
    Math.max(1, Math.ceil(Math.max(options.concurrency, options.doubleDip) / urls.length)),
    options.requestTimeoutMs,
  );
  try {
    const runId = Date.now().toString(36);
    const couponName = options.couponName ?? `STRESS_${options.seed}_${runId}`;
    const adminToken = await login(http, service?.adminUser ?? options.adminUser, service?.adminPassword ?? options.adminPassword!);
    const coupons = splitStock(couponName, options.stock, options.coupons);
    for (const coupon of coupons) {
      const created = await http.request('POST', '/api/coupons', { name: coupon.name, amount: coupon.stock }, adminToken);
      if (created.status !== 201)
        throw new Error(`creating coupon ${coupon.name} failed: ${created.status} ${JSON.stringify(created.body)}`);
    }

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
      coupons: coupons.map((c) => c.name),
      claimsPerUser: options.claimsPerUser,
      users,
      stock: expectedGrants(coupons, users.length, options.claimsPerUser),
      concurrency: options.concurrency,
      doubleDip: options.doubleDip,
      seed: options.seed,
      durationSeconds: options.durationSeconds,
      retries: options.retries,
      retryDelayMs: options.retryDelayMs,
      idempotencyKeys: options.idempotencyKeys,
      onProgress: progress.update,
    });
    progress.done();

    const sales = await couponSales(http, users[0].token, databaseUrl, coupons, run.records);
    const checks = checkSales({ records: run.records, coupons: sales, doubleDip: options.doubleDip, dipper: users[0].username });
    checks.push(...(await checkKeyedClaims(databaseUrl, run.records)));
    if (events) {
      log('checking the events at the broker...');
      const granted = (coupon: string) => run.records.filter((r) => r.coupon === coupon && r.status === 200).map((r) => r.username);
      const holders = (coupon: string) => (databaseUrl ? holdersOf(databaseUrl, coupon) : Promise.resolve(granted(coupon)));
      checks.push(
        ...(await saleEventChecks(
          events,
          coupons.map((c) => c.name),
          holders,
          options.events!.withinSeconds * 1000,
        )),
      );
    }
    const report = buildReport(
      run,
      {
        targets: urls,
        selfHosted: service !== null,
        coupon: couponName,
        users: options.users,
        stock: options.stock,
        coupons: options.coupons,
        claimsPerUser: options.claimsPerUser,
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
    await events?.delete();
  }
}

/** What the sale can grant in all: each coupon's stock, or fewer when fewer users ask for it (the first user is the double dipper, on the first coupon). */
function expectedGrants(coupons: { name: string; stock: number }[], users: number, claimsPerUser: number): number {
  const claimants = new Map(coupons.map((c) => [c.name, 0]));
  claimants.set(coupons[0].name, 1);
  for (const wanted of claimPlan(
    users - 1,
    coupons.map((c) => c.name),
    claimsPerUser,
  ))
    for (const name of wanted) claimants.set(name, claimants.get(name)! + 1);
  return coupons.reduce((sum, c) => sum + Math.min(c.stock, claimants.get(c.name)!), 0);
}
