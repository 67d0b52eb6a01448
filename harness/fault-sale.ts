import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { outcomeOf, runSale } from './claim-runner';
import { CheckResult } from './check-result';
import { databaseSnapshot, holdersOf } from './database-checks';
import { judge } from './fault-judge';
import { FaultSale, FaultScenario, SaleContext, ScenarioResult } from './fault-sale-types';
import { REQUEST_TIMEOUT_MS, RETRY_DELAY_MS, SALE_MAX_SECONDS, SCENARIO_REDIS_COMMAND_TIMEOUT_MS } from './fault-timeouts';
import { HttpPool } from './http-pool';
import { RedisNode } from './redis-node';
import { CouponSnapshot } from './sale-checks';
import { ServiceGroup, startServiceGroup } from './self-hosted-service';
import { TcpProxy } from './tcp-proxy';
import { login, seedUsers } from './user-seeder';

export type { FaultSale, FaultScenario, SaleContext, ScenarioResult } from './fault-sale-types';

/** Debian's libfaketime (package faketime), wherever this architecture keeps it. */
const LIBFAKETIME_PATHS = ['x86_64-linux-gnu', 'aarch64-linux-gnu'].map((arch) => `/usr/lib/${arch}/faketime/libfaketimeMT.so.1`);
const libfaketime = () => LIBFAKETIME_PATHS.find((path) => existsSync(path)) ?? null;

/** The environment of one process, with the links and the clock the spec asked for. */
function processEnv(
  spec: FaultSale,
  index: number,
  env: Record<string, string>,
  links: { database: TcpProxy | null; redis: TcpProxy | null; nodes: RedisNode[]; clockFile: string | null },
): Record<string, string> {
  const out = { ...env };
  if (links.database && spec.databaseLinkOf === index) {
    const url = new URL(env.DATABASE_URL);
    url.host = `127.0.0.1:${links.database.port}`;
    out.DATABASE_URL = url.toString();
  }
  if (links.redis && spec.redisLinkTo) {
    out.REDIS_URLS = links.nodes
      .map((node, i) => (i === spec.redisLinkTo!.node ? `redis://127.0.0.1:${links.redis!.port}` : node.url))
      .join(',');
  }
  if (links.clockFile && spec.fakeClockOf === index) {
    // Only the wall clock jumps, as when NTP steps it; timers and performance.now() stay monotonic.
    out.LD_PRELOAD = libfaketime()!;
    out.FAKETIME_TIMESTAMP_FILE = links.clockFile;
    out.FAKETIME_DONT_FAKE_MONOTONIC = '1';
    out.FAKETIME_CACHE_DURATION = '1';
  }
  return out;
}

export async function runFaultSale(spec: FaultSale): Promise<ScenarioResult> {
  const started = Date.now();
  const nodes: RedisNode[] = [];
  let group: ServiceGroup | null = null;
  let http: HttpPool | null = null;
  const checks: CheckResult[] = [];
  const notes: string[] = [];
  const check = (name: string, passed: boolean, detail: string) => checks.push({ name, passed, detail });
  let databaseLink: TcpProxy | null = null;
  let redisLink: TcpProxy | null = null;
  let clockFile: string | null = null;
  try {
    for (let i = 0; i < spec.redisNodes; i++) nodes.push(await RedisNode.start());
    if (spec.databaseLinkOf !== undefined) databaseLink = await TcpProxy.start('127.0.0.1', 5432);
    if (spec.redisLinkTo) {
      redisLink = await TcpProxy.start('127.0.0.1', nodes[spec.redisLinkTo.node].port);
      redisLink.setDelay(spec.redisLinkTo.delayMs ?? 0);
    }
    if (spec.fakeClockOf !== undefined) {
      if (!libfaketime()) throw new Error(`libfaketime is missing (${LIBFAKETIME_PATHS.join(', ')}): apt-get install faketime`);
      clockFile = join(tmpdir(), `coupons-fake-clock-${process.pid}-${Date.now()}`);
      writeFileSync(clockFile, '+0\n');
    }
    const links = { database: databaseLink, redis: redisLink, nodes, clockFile };
    group = await startServiceGroup(
      spec.processes,
      {
        REDIS_URLS: nodes.map((n) => n.url).join(','),
        REDIS_COMMAND_TIMEOUT_MS: String(SCENARIO_REDIS_COMMAND_TIMEOUT_MS),
        // The scenarios test the lock and the database; a per-user claim limit would turn long
        // retry loops during an outage into 429s that say nothing about either.
        CLAIM_RATE_LIMIT_PER_USER: '0',
        // Three processes share a PostgreSQL that allows 100 connections with whatever else runs
        // (the rest of the test suite, in CI); a batch needs one connection at a time.
        DATABASE_POOL_SIZE: '6',
        ...spec.env,
      },
      (index, env) => processEnv(spec, index, env, links),
    );
    const concurrency = spec.concurrency ?? 60;
    http = new HttpPool(group.urls, Math.ceil(concurrency / group.urls.length) + 2, spec.requestTimeoutMs ?? REQUEST_TIMEOUT_MS);
    const runId = `${spec.id}${Date.now().toString(36)}`;
    const couponName = `FAULT_${runId}`;
    const admin = await login(http, group.adminUser, group.adminPassword);
    const created = await http.request('POST', '/api/coupons', { name: couponName, amount: spec.stock }, admin);
    if (created.status !== 201) throw new Error(`creating ${couponName}: ${created.status} ${JSON.stringify(created.body)}`);
    const seeded = await seedUsers({
      http,
      databaseUrl: group.databaseUrl,
      prefix: `f${runId}_`,
      count: spec.users + 1,
      password: `fault-${runId}`,
      concurrency: 32,
    });
    const probe = seeded.users.pop()!;
    const users = seeded.users;
    const sale: SaleContext = {
      group,
      nodes,
      couponName,
      users,
      probe,
      http,
      databaseLink,
      redisLink,
      clockFile,
      check,
      note: (text) => notes.push(text),
    };

    let fault: Promise<void> | null = null;
    const run = await runSale({
      http,
      couponName,
      users,
      stock: spec.stock,
      concurrency,
      doubleDip: spec.doubleDip ?? 0,
      seed: spec.id,
      durationSeconds: SALE_MAX_SECONDS,
      retries: 100,
      retryDelayMs: RETRY_DELAY_MS,
      slotReleaseAfterMs: spec.slotReleaseAfterMs,
      idempotencyKeys: spec.idempotencyKeys,
      onProgress: ({ done, total }) => {
        if (spec.fault && !fault && done >= total * (spec.faultAt ?? 0.3)) {
          fault = spec.fault(sale).catch((error: Error) => {
            check('the fault was injected', false, error.message);
          });
        }
      },
    });
    if (spec.fault && !fault) check('the fault was injected mid-sale', false, 'the sale ended before the fault point');
    await (fault as Promise<void> | null);
    if (spec.after) await spec.after(sale, run);

    const couponAnswer = await http.request('GET', `/api/coupons/${couponName}`, undefined, users[0].token);
    const coupon = couponAnswer.status === 200 ? (couponAnswer.body as CouponSnapshot) : null;
    const database = await databaseSnapshot(group.databaseUrl, couponName);
    const holders = await holdersOf(group.databaseUrl, couponName);
    judge(spec, run, coupon, database, holders, users[0].username, check);

    const answers: Record<string, number> = { ...run.retryableSeen };
    for (const record of run.records) answers[outcomeOf(record)] = (answers[outcomeOf(record)] ?? 0) + 1;
    const granted = run.records.filter((r) => r.status === 200).length;
    run.latency.destroy();
    return {
      id: spec.id,
      title: spec.title,
      setup: `${spec.processes} API process${spec.processes > 1 ? 'es' : ''}, ${spec.redisNodes} Redis node${spec.redisNodes > 1 ? 's' : ''}`,
      users: spec.users,
      stock: spec.stock,
      claimsSent: run.records.length + Object.values(run.retryableSeen).reduce((a, b) => a + b, 0),
      granted,
      answers,
      rows: database?.rows ?? -1,
      oversell: database ? Math.max(0, database.rows - database.amount) : -1,
      checks,
      notes,
      durationMs: Date.now() - started,
    };
  } finally {
    // Whatever the fault left stopped or cut is restored first, so every process can stop.
    for (const p of group?.processes ?? []) p.signal('SIGCONT');
    databaseLink?.set('forward');
    redisLink?.set('forward');
    await http?.close();
    await group?.stop();
    for (const node of nodes) await node.kill();
    await databaseLink?.close();
    await redisLink?.close();
    if (clockFile) rmSync(clockFile, { force: true });
  }
}

/** A scenario of the list: its id, its title and the sale it runs. */
export const faultScenario = (id: number, title: string, spec: Omit<FaultSale, 'id' | 'title'>): FaultScenario => ({
  id,
  title,
  run: () => runFaultSale({ id, title, ...spec }),
});
