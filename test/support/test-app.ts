import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Client } from 'pg';
import type { DestinationStream } from 'pino';
import { createApp } from '../../src/app.factory';
import type { Claimant } from '../../src/claims/claim-outcome';
import { ClaimsService } from '../../src/claims/claims.service';
import { AppConfig, ConfigKey } from '../../src/config/app-config';
import { loadConfig } from '../../src/config/config.loader';
import { DATABASE_SNAPSHOT_SQL, DatabaseSnapshot, dropDatabase } from '../../harness/database-checks';
import { deleteKeysWithPrefix } from '../../harness/redis-node';
import { ApiClient } from './http-client';
import { createFromTemplate } from './template-database';

export const PG_ADMIN_URL = process.env.TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const SHARED_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const ADMIN = { username: 'admin', password: 'admin-password-for-tests' };

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let counter = 0;

/** A database and a Redis key prefix that belong to one test suite alone. */
export function isolatedNames(): { database: string; prefix: string } {
  counter++;
  const suffix = `${process.pid}_${counter}_${Date.now().toString(36)}`;
  return { database: `coupons_test_${suffix}`, prefix: `test:${suffix}:` };
}

export function databaseUrl(database: string, base = PG_ADMIN_URL): string {
  const url = new URL(base);
  url.pathname = `/${database}`;
  return url.toString();
}

export function testConfig(overrides: Partial<Record<ConfigKey, unknown>> = {}): AppConfig {
  const { database, prefix } = isolatedNames();
  return loadConfig(
    {
      NODE_ENV: 'test',
      HOST: '127.0.0.1',
      PORT: 0,
      LOG_LEVEL: 'error',
      DATABASE_URL: databaseUrl(database),
      REDIS_URLS: SHARED_REDIS_URL,
      REDIS_KEY_PREFIX: prefix,
      BCRYPT_COST: 4,
      ADMIN_USERNAME: ADMIN.username,
      ADMIN_PASSWORD: ADMIN.password,
      JWT_SECRET: 'test-secret-that-is-long-enough-0123456789',
      // Suites log in and claim far faster than people; the rate-limit suite turns these on.
      LOGIN_RATE_LIMIT_PER_USERNAME: 0,
      LOGIN_RATE_LIMIT_PER_ADDRESS: 0,
      REGISTRATION_RATE_LIMIT_PER_ADDRESS: 0,
      CLAIM_RATE_LIMIT_PER_USER: 0,
      // Suites register and log in users hundreds at a time (at BCRYPT_COST 4); the flood suite
      // sets the real bound.
      BCRYPT_MAX_CONCURRENT: 1024,
      ...overrides,
    },
    {},
  );
}

export interface TestApp {
  app: NestFastifyApplication;
  config: AppConfig;
  url: string;
  api: ApiClient;
  /** Runs SQL against this suite's database. */
  sql<T = any>(text: string, params?: unknown[]): Promise<T[]>;
  adminToken(): Promise<string>;
  close(): Promise<void>;
}

/**
 * Boots the real service (real PostgreSQL, real Redis) on a free loopback port. Its database is
 * a copy of the migrated template (test/support/template-database.ts), unless the suite names
 * its own DATABASE_URL: then the app creates and migrates it, as in production.
 */
export async function startTestApp(
  overrides: Partial<Record<ConfigKey, unknown>> = {},
  options: { logDestination?: DestinationStream } = {},
): Promise<TestApp> {
  const config = testConfig(overrides);
  if (overrides.DATABASE_URL === undefined) {
    await createFromTemplate(PG_ADMIN_URL, new URL(config.DATABASE_URL).pathname.slice(1), config);
  }
  return boot(config, true, options.logDestination);
}

/** The app, an admin token and one plain user's token: what most suites start from. */
export async function startAppWithUser(
  username: string,
  overrides: Partial<Record<ConfigKey, unknown>> = {},
): Promise<{ t: TestApp; admin: string; user: string }> {
  const t = await startTestApp(overrides);
  return { t, admin: await t.adminToken(), user: await t.api.newUser(username) };
}

/**
 * A second API process of the same deployment: `first`'s configuration (its database, Redis
 * nodes and key prefix among it) with `overrides`. It leaves the database and the keys in place
 * when it closes (the first app drops them): close it first.
 */
export async function startSiblingApp(first: TestApp, overrides: Partial<Record<ConfigKey, unknown>> = {}): Promise<TestApp> {
  return boot(loadConfig({ ...first.config, ...overrides }, {}), false);
}

async function boot(config: AppConfig, ownsStorage: boolean, logDestination?: DestinationStream): Promise<TestApp> {
  const app = await createApp(config, logDestination);
  await app.listen(0, '127.0.0.1');
  const address = app.getHttpServer().address() as { port: number };
  const url = `http://127.0.0.1:${address.port}`;
  // Straight to PostgreSQL, never through a proxy the test may break.
  const db = new Client({ connectionString: databaseUrl(new URL(config.DATABASE_URL).pathname.slice(1)) });
  db.on('error', () => undefined);
  await db.connect();
  let adminToken: string | undefined;
  const api = new ApiClient(url);
  return {
    app,
    config,
    url,
    api,
    sql: async (text, params) => (await db.query(text, params as unknown[])).rows,
    adminToken: async () => (adminToken ??= await api.login(ADMIN.username, ADMIN.password)),
    close: async () => {
      await db.end().catch(() => undefined);
      await app.close();
      if (!ownsStorage) return;
      await dropDatabase(config.DATABASE_URL);
      await deleteKeysWithPrefix(config.REDIS_URLS.split(','), config.REDIS_KEY_PREFIX);
    },
  };
}

/** Waits until `test`'s process answers claims of `couponName` from its sold-out memory. */
export async function untilSoldOutRemembered(test: TestApp, couponName: string): Promise<void> {
  const claims = test.app.get(ClaimsService);
  const deadline = Date.now() + 5000;
  while (!claims.knowsSoldOut(couponName)) {
    if (Date.now() > deadline) throw new Error(`the process never remembered ${couponName} as sold out`);
    await sleep(5);
  }
}

/** Registers n users in parallel and returns their tokens. */
export async function makeUsers(api: ApiClient, prefix: string, n: number): Promise<{ username: string; token: string }[]> {
  return Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const username = `${prefix}${i}`;
      return { username, token: await api.newUser(username) };
    }),
  );
}

/** Registers `n` users named `prefix0`.. and returns them as the claim path sees them, in id order. */
export async function makeClaimants(t: TestApp, prefix: string, n: number): Promise<Claimant[]> {
  await makeUsers(t.api, prefix, n);
  const rows = await t.sql<{ id: string; username: string }>(
    "SELECT id::text AS id, username FROM users WHERE username LIKE $1 || '%' ORDER BY id",
    [prefix],
  );
  return rows.map((r) => ({ userId: r.id, username: r.username }));
}

/** remaining_amount = amount - rows, rows <= amount, nobody twice: the three promises, from the database. */
export async function couponInvariants(test: TestApp, name: string) {
  // Over the suite's own direct connection: DATABASE_URL may point through a proxy the test broke.
  const [coupon] = await test.sql(DATABASE_SNAPSHOT_SQL, [name]);
  return coupon as DatabaseSnapshot;
}
