import * as bcrypt from 'bcrypt';
import { Client } from 'pg';
import { loadConfig } from '../src/config/config.loader';
import { HttpPool } from '../harness/http-pool';
import { startSelfHostedService } from '../harness/self-hosted-service';
import { SaleUser, login, seedUsers } from '../harness/user-seeder';
import type { BenchTarget } from './bench-result';

/**
 * The login storm: USERS registered users log in at the same moment, each from its own address
 * (behind a trusted proxy: TRUST_PROXY=true, X-Forwarded-For), each waiting exactly the
 * Retry-After it is told after a 503 AUTH_BUSY. Everything else at the shipped defaults
 * (BCRYPT_COST 10, BCRYPT_MAX_CONCURRENT 0, BCRYPT_QUEUE_MAX_WAIT_MS, the login limits).
 */
export interface LoginStormResult {
  users: number;
  bcryptCost: number;
  queueMaxWaitMs: number;
  served: number;
  stormSeconds: number;
  loginsPerSecond: number;
  busyAnswers: number;
  busyPerLogin: number;
  medianWaitSeconds: number;
  p99WaitSeconds: number;
  /** Anything but 200 and 503 AUTH_BUSY, by status and code. */
  otherAnswers: Record<string, number>;
  /**
   * Sold-out claims answered per second by CLAIMERS users in a loop: before the storm, during it,
   * and after it. The quiet rate the storm's is held against is the mean of before and after: a
   * drift of this shared machine's speed across the storm then counts on both sides.
   */
  claimsBeforePerSecond: number;
  claimsDuringStormPerSecond: number;
  claimsAfterPerSecond: number;
  claimsQuietPerSecond: number;
}

const CLAIMERS = 32;
const COUPON = 'STORM_SOLD_OUT';
const QUIET_SECONDS = 3;

/** Every user claims the sold-out coupon again and again until `until()` says stop; answers per second. */
async function claimLoop(http: HttpPool, users: SaleUser[], until: () => boolean): Promise<number> {
  let answered = 0;
  const started = performance.now();
  await Promise.all(
    users.map(async (user) => {
      while (!until()) {
        const answer = await http.request('POST', '/api/coupons/claim', { coupon_name: COUPON }, user.token);
        if (answer.body?.code !== 'SOLD_OUT' && answer.body?.code !== 'ALREADY_CLAIMED')
          throw new Error(`a storm-time claim got ${answer.status} ${JSON.stringify(answer.body)}`);
        answered++;
      }
    }),
  );
  return answered / ((performance.now() - started) / 1000);
}

const USERS = Number(process.env.BENCH_STORM_USERS ?? 300) || 300;
const PASSWORD = 'storm-password-1';
/** A client gives up after this long: far past the storm the targets allow. */
const CLIENT_DEADLINE_MS = 180_000;
const round = (n: number, places = 2) => Math.round(n * 10 ** places) / 10 ** places;
const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];

export async function measureLoginStorm(log: (line: string) => void): Promise<LoginStormResult> {
  const defaults = loadConfig({}, {});
  const service = await startSelfHostedService({
    TRUST_PROXY: 'true',
    BCRYPT_MAX_CONCURRENT: String(defaults.BCRYPT_MAX_CONCURRENT),
    LOGIN_RATE_LIMIT_PER_ADDRESS: String(defaults.LOGIN_RATE_LIMIT_PER_ADDRESS),
    REGISTRATION_RATE_LIMIT_PER_ADDRESS: String(defaults.REGISTRATION_RATE_LIMIT_PER_ADDRESS),
  });
  const http = new HttpPool([service.url], USERS, 60_000);
  const claimsHttp = new HttpPool([service.url], CLAIMERS, 60_000);
  try {
    const admin = await login(claimsHttp, service.adminUser, service.adminPassword);
    const { users: claimers } = await seedUsers({
      http: claimsHttp,
      databaseUrl: service.databaseUrl,
      prefix: 'claimer_',
      count: CLAIMERS,
      password: 'bench-password-1',
      concurrency: 1,
    });
    await claimsHttp.request('POST', '/api/coupons', { name: COUPON, amount: 1 }, admin);
    await claimsHttp.request('POST', '/api/coupons/claim', { coupon_name: COUPON }, claimers[0].token);
    const quietUntil = performance.now() + QUIET_SECONDS * 1000;
    await claimLoop(claimsHttp, claimers, () => performance.now() > quietUntil); // warm-up
    const quietEnd = performance.now() + QUIET_SECONDS * 1000;
    const claimsBefore = await claimLoop(claimsHttp, claimers, () => performance.now() > quietEnd);
    // Stored at the service's own cost: each login costs what a real one does.
    const hash = await bcrypt.hash(PASSWORD, defaults.BCRYPT_COST);
    const db = new Client({ connectionString: service.databaseUrl });
    await db.connect();
    const names = Array.from({ length: USERS }, (_, i) => `storm_${i}`);
    await db.query(`INSERT INTO users (username, password_hash) SELECT unnest($1::text[]), $2`, [names, hash]);
    await db.end();
    await new Promise((resolve) => setTimeout(resolve, 1000)); // the seeding's own hashing is over

    let busy = 0;
    const other: Record<string, number> = {};
    const waits: number[] = [];
    const started = performance.now();
    let stormOver = false;
    const claimsDuring = claimLoop(claimsHttp, claimers, () => stormOver);
    await Promise.all(
      names.map(async (username, i) => {
        const address = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
        while (performance.now() - started < CLIENT_DEADLINE_MS) {
          const answer = await http.request('POST', '/api/users/login', { username, password: PASSWORD }, undefined, {
            'x-forwarded-for': address,
          });
          if (answer.status === 200) {
            waits.push(performance.now() - started);
            return;
          }
          const key = `${answer.status} ${answer.body?.code ?? answer.failure ?? ''}`.trim();
          if (answer.body?.code === 'AUTH_BUSY') busy++;
          else other[key] = (other[key] ?? 0) + 1;
          const retryAfterMs = Number(answer.retryAfter) * 1000;
          await new Promise((resolve) => setTimeout(resolve, Number.isFinite(retryAfterMs) && retryAfterMs > 0 ? retryAfterMs : 1000));
        }
      }),
    );
    stormOver = true;
    const claimsDuringStorm = await claimsDuring;
    const afterEnd = performance.now() + QUIET_SECONDS * 1000;
    const claimsAfter = await claimLoop(claimsHttp, claimers, () => performance.now() > afterEnd);
    const stormMs = Math.max(...waits);
    const sorted = [...waits].sort((a, b) => a - b);
    const result: LoginStormResult = {
      users: USERS,
      bcryptCost: defaults.BCRYPT_COST,
      queueMaxWaitMs: defaults.BCRYPT_QUEUE_MAX_WAIT_MS,
      served: waits.length,
      stormSeconds: round(stormMs / 1000, 1),
      loginsPerSecond: round(waits.length / (stormMs / 1000), 1),
      busyAnswers: busy,
      busyPerLogin: round(busy / USERS),
      medianWaitSeconds: round(percentile(sorted, 0.5) / 1000, 1),
      p99WaitSeconds: round(percentile(sorted, 0.99) / 1000, 1),
      otherAnswers: other,
      claimsBeforePerSecond: Math.round(claimsBefore),
      claimsDuringStormPerSecond: Math.round(claimsDuringStorm),
      claimsAfterPerSecond: Math.round(claimsAfter),
      claimsQuietPerSecond: Math.round((claimsBefore + claimsAfter) / 2),
    };
    log(`login storm: ${JSON.stringify(result)}`);
    return result;
  } finally {
    await http.close();
    await claimsHttp.close();
    await service.stop();
  }
}

export function loginStormTargets(r: LoginStormResult): BenchTarget[] {
  return [
    {
      name: `login storm: all ${r.users} served`,
      passed: r.served === r.users && Object.keys(r.otherAnswers).length === 0,
      detail: `${r.served} served; other answers ${JSON.stringify(r.otherAnswers)}`,
    },
    {
      name: 'login storm: <= 1 AUTH_BUSY per login on average',
      passed: r.busyPerLogin <= 1,
      detail: `${r.busyPerLogin} (${r.busyAnswers} busy answers)`,
    },
    {
      name: 'login storm: median wait <= 0.6 x the storm duration',
      passed: r.medianWaitSeconds <= 0.6 * r.stormSeconds,
      detail: `${r.medianWaitSeconds} s of ${r.stormSeconds} s (${round(r.medianWaitSeconds / r.stormSeconds)}x)`,
    },
    {
      name: 'login storm: sold-out claims answered during the storm >= 0.7 x when quiet (mean of before and after it)',
      passed: r.claimsDuringStormPerSecond >= 0.7 * r.claimsQuietPerSecond,
      detail: `${round(r.claimsDuringStormPerSecond / r.claimsQuietPerSecond)}x (${r.claimsDuringStormPerSecond} vs ${r.claimsQuietPerSecond}/s)`,
    },
  ];
}

export function loginStormTable(r: LoginStormResult): string {
  return [
    `| logins | from addresses | bcrypt cost | queue bound | storm | logins/s | busy answers per login | median wait | p99 wait | claims/s before / during / after (${CLAIMERS} claimers) |`,
    '|---|---|---|---|---|---|---|---|---|---|',
    `| ${r.served}/${r.users} | ${r.users} | ${r.bcryptCost} | ${r.queueMaxWaitMs / 1000} s | ${r.stormSeconds} s | ${r.loginsPerSecond} | ${r.busyPerLogin} | ${r.medianWaitSeconds} s | ${r.p99WaitSeconds} s | ${r.claimsBeforePerSecond} / ${r.claimsDuringStormPerSecond} / ${r.claimsAfterPerSecond} |`,
  ].join('\n');
}
