import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import type { Client } from 'pg';
import { ClaimRecord, SaleRun, outcomeOf, runSale } from './claim-runner';
import { CheckResult } from './check-result';
import { DatabaseSnapshot, databaseSnapshot, holdersOf, invariantCheck, withDatabase } from './database-checks';
import { HttpPool } from './http-pool';
import { localTcpPortsOf } from './process-sockets';
import { RedisNode } from './redis-node';
import { CouponSnapshot, checkSale } from './sale-checks';
import { ServiceGroup, startServiceGroup } from './self-hosted-service';
import { TcpProxy } from './tcp-proxy';
import { SaleUser, login, seedUsers } from './user-seeder';

/**
 * The fault scenarios of documentation/reliability.md: each starts its own API processes and
 * Redis nodes on free loopback ports, runs a sale over HTTP with the stress tool, breaks
 * something mid-sale and judges the result. test/fault-scenarios.e2e-spec.ts asserts them;
 * `npm run reliability` runs the same list and writes the table.
 */
export interface ScenarioResult {
  id: number;
  title: string;
  setup: string;
  users: number;
  stock: number;
  claimsSent: number;
  granted: number;
  /** Every answer by outcome, the retried 503s included. */
  answers: Record<string, number>;
  rows: number;
  oversell: number;
  checks: CheckResult[];
  notes: string[];
  durationMs: number;
}

export interface FaultScenario {
  id: number;
  title: string;
  run(): Promise<ScenarioResult>;
}

export interface SaleContext {
  group: ServiceGroup;
  nodes: RedisNode[];
  couponName: string;
  users: SaleUser[];
  /** A user who takes no part in the sale, for probes during a fault. */
  probe: SaleUser;
  http: HttpPool;
  /** The proxied links the spec asked for: one process's link to PostgreSQL, every process's link to one Redis node. */
  databaseLink: TcpProxy | null;
  redisLink: TcpProxy | null;
  /** The libfaketime offset file of the process under a fake clock ("+30s" jumps it). */
  clockFile: string | null;
  check(name: string, passed: boolean, detail: string): void;
  note(text: string): void;
}

export interface FaultSale {
  id: number;
  title: string;
  processes: number;
  redisNodes: number;
  users: number;
  stock: number;
  env?: Record<string, string>;
  concurrency?: number;
  doubleDip?: number;
  /** The fault starts once this share of the claims has been answered. */
  faultAt?: number;
  fault?: (sale: SaleContext) => Promise<void>;
  /** Judges the sale: 'exact' applies every stress check; 'every-200-is-a-row' the weaker honest set. */
  expect: 'exact' | 'every-200-is-a-row';
  /** Milliseconds a client waits for an answer (default 15 s); longer where a process is frozen on purpose. */
  requestTimeoutMs?: number;
  /** A claim unanswered this long frees its place among the `concurrency` in flight (runSale's slotReleaseAfterMs). */
  slotReleaseAfterMs?: number;
  /** This process (index) reaches PostgreSQL through a proxy the fault can break: sale.databaseLink. */
  databaseLinkOf?: number;
  /** Every process reaches this Redis node (index) through one proxy: sale.redisLink, delayed from the start by delayMs. */
  redisLinkTo?: { node: number; delayMs?: number };
  /** This process (index) runs under libfaketime (Debian's faketime package); sale.clockFile moves its clock. */
  fakeClockOf?: number;
  /** Every claim carries an Idempotency-Key and is retried with it (503s, lost answers, keys in flight). */
  idempotencyKeys?: boolean;
  /** Usernames allowed to hold a row without a 200 (answer lost with a process, or learnt on retry). */
  rowWithout200Allowed?: (record: ClaimRecord | undefined) => boolean;
  after?: (sale: SaleContext, run: SaleRun) => Promise<void>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const REQUEST_TIMEOUT_MS = 15_000;
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
    group = await startServiceGroup(spec.processes, {
      REDIS_URLS: nodes.map((n) => n.url).join(','),
      REDIS_COMMAND_TIMEOUT_MS: '300',
      // The scenarios test the lock and the database; a per-user claim limit would turn long
      // retry loops during an outage into 429s that say nothing about either.
      CLAIM_RATE_LIMIT_PER_USER: '0',
      // Three processes share a PostgreSQL that allows 100 connections with whatever else runs
      // (the rest of the test suite, in CI); a batch needs one connection at a time.
      DATABASE_POOL_SIZE: '6',
      ...spec.env,
    }, (index, env) => processEnv(spec, index, env, links));
    const concurrency = spec.concurrency ?? 60;
    http = new HttpPool(group.urls, Math.ceil(concurrency / group.urls.length) + 2, spec.requestTimeoutMs ?? REQUEST_TIMEOUT_MS);
    const runId = `${spec.id}${Date.now().toString(36)}`;
    const couponName = `FAULT_${runId}`;
    const admin = await login(http, group.adminUser, group.adminPassword);
    const created = await http.request('POST', '/api/coupons', { name: couponName, amount: spec.stock }, admin);
    if (created.status !== 201) throw new Error(`creating ${couponName}: ${created.status} ${JSON.stringify(created.body)}`);
    const seeded = await seedUsers({
      http, databaseUrl: group.databaseUrl, prefix: `f${runId}_`, count: spec.users + 1, password: `fault-${runId}`, concurrency: 32,
    });
    const probe = seeded.users.pop()!;
    const users = seeded.users;
    const sale: SaleContext = {
      group, nodes, couponName, users, probe, http, databaseLink, redisLink, clockFile, check, note: (text) => notes.push(text),
    };

    let fault: Promise<void> | null = null;
    const run = await runSale({
      http, couponName, users, stock: spec.stock, concurrency, doubleDip: spec.doubleDip ?? 0, seed: spec.id,
      durationSeconds: 120, retries: 100, retryDelayMs: 100, slotReleaseAfterMs: spec.slotReleaseAfterMs, idempotencyKeys: spec.idempotencyKeys,
      onProgress: ({ done, total }) => {
        if (spec.fault && !fault && done >= total * (spec.faultAt ?? 0.3)) {
          fault = spec.fault(sale).catch((error: Error) => {
            check('the fault was injected', false, error.message);
          });
        }
      },
    });
    if (spec.fault && !fault) check('the fault was injected mid-sale', false, 'the sale ended before the fault point');
    await fault;
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

function judge(
  spec: FaultSale,
  run: SaleRun,
  coupon: CouponSnapshot | null,
  database: DatabaseSnapshot | null,
  holders: string[],
  dipper: string,
  check: (name: string, passed: boolean, detail: string) => void,
): void {
  // 'exact' applies every stress check, the database invariants among them; otherwise the invariants alone.
  if (spec.expect === 'exact') {
    const stress = checkSale({
      records: run.records, stock: spec.stock, userCount: spec.users, doubleDip: spec.doubleDip ?? 0, dipper, coupon, database,
    });
    for (const c of stress) check(c.name, c.passed, c.detail);
  }
  if (!database) {
    check('database readable after the sale', false, 'coupon row not found');
    return;
  }
  if (spec.expect !== 'exact') {
    const invariants = invariantCheck(database);
    check(invariants.name, invariants.passed, invariants.detail);
  }
  const holderSet = new Set(holders);
  const grantedUsers = run.records.filter((r) => r.status === 200).map((r) => r.username);
  const missing = grantedUsers.filter((u) => !holderSet.has(u));
  check('every 200 is a row in the database', missing.length === 0, `${missing.length} of ${grantedUsers.length} 200s without a row`);
  const finalAnswer = new Map(run.records.map((r) => [r.username, r]));
  const grantedSet = new Set(grantedUsers);
  const unexplained = holders.filter((u) => !grantedSet.has(u) && !(spec.rowWithout200Allowed?.(finalAnswer.get(u)) ?? false));
  check('no row the clients were not told about, but where the scenario allows it', unexplained.length === 0, `${unexplained.length} unexplained rows`);
}

/**
 * In `db`'s open transaction: locks the coupon row, then waits (up to `maxMs`) until a session
 * of the service waits for a lock behind it. Whether one did.
 */
async function lockRowUntilQueuedBehind(db: Client, couponName: string, maxMs: number): Promise<boolean> {
  await db.query('SELECT id FROM coupons WHERE name = $1 FOR UPDATE', [couponName]);
  for (let waited = 0; waited < maxMs; waited += 20) {
    const { rows } = await db.query(
      `SELECT count(*)::int AS n FROM pg_stat_activity
        WHERE datname = current_database() AND application_name = 'flash-sale-coupons' AND wait_event_type = 'Lock'`,
    );
    if (rows[0].n > 0) return true;
    await sleep(20);
  }
  return false;
}

/** Claims as the probe user straight through one process, bypassing the rotation. */
async function claimThrough(url: string, sale: SaleContext): Promise<{ status: number; code: string | null; elapsedMs: number }> {
  const started = Date.now();
  const answer = await fetch(`${url}/api/coupons/claim`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${sale.probe.token}` },
    body: JSON.stringify({ coupon_name: sale.couponName }),
  });
  const body = (await answer.json().catch(() => ({}))) as { code?: string };
  return { status: answer.status, code: body.code ?? null, elapsedMs: Date.now() - started };
}

/** Claims as the probe user, once; the answer, how long it took and whether a row appeared. */
async function probeClaim(sale: SaleContext): Promise<{ status: number; code: string | null; elapsedMs: number; wrote: boolean }> {
  const started = Date.now();
  const answer = await sale.http.request('POST', '/api/coupons/claim', { coupon_name: sale.couponName }, sale.probe.token);
  const elapsedMs = Date.now() - started;
  const holders = await holdersOf(sale.group.databaseUrl, sale.couponName);
  return { status: answer.status, code: answer.body?.code ?? null, elapsedMs, wrote: holders.includes(sale.probe.username) };
}

const LOCK_LOST = /was lost \(lease expired\)/;

interface StuckSession {
  backendPid: number;
  /** Its client's port as PostgreSQL sees it (for a proxied link, the proxy's upstream port). */
  clientPort: number;
  attempts: number;
}

interface ServiceSession {
  pid: number;
  client_port: number;
  state: string;
  /** It holds the coupons table's row-share lock: inside a claim transaction, at or past its FOR UPDATE. */
  holds_row: boolean;
}

/** The PostgreSQL sessions whose client ports are `ports` (one process's connections). */
async function sessionsOf(db: Client, ports: Set<number>): Promise<ServiceSession[]> {
  const { rows } = await db.query(
    `SELECT a.pid, a.client_port, a.state,
            EXISTS (SELECT 1 FROM pg_locks l
                     WHERE l.pid = a.pid AND l.granted AND l.relation = 'coupons'::regclass AND l.mode = 'RowShareLock') AS holds_row
       FROM pg_stat_activity a
      WHERE a.datname = current_database() AND a.application_name = 'flash-sale-coupons'`,
  );
  return rows.filter((r: { client_port: number }) => ports.has(r.client_port));
}

/**
 * Cuts one process off (freezes it, or blackholes its link) again and again until the cut
 * lands while one of its sessions sits idle in a transaction holding the coupon row, and
 * returns that session; null if that did not happen within `withinMs`. Each cut is made as
 * soon as one of its sessions is seen inside a claim transaction; then it waits for the
 * process's running statements to finish, reads pg_stat_activity and pg_locks, and confirms
 * from its own session that the row is locked (FOR UPDATE NOWAIT refused). Otherwise it
 * restores the process and tries again a moment later.
 */
async function cutWhileHoldingRow(
  sale: SaleContext,
  clientPorts: () => Set<number>,
  cut: () => void,
  restore: () => void,
  withinMs = 20_000,
): Promise<StuckSession | null> {
  return withDatabase(sale.group.databaseUrl, async (db) => {
    const deadline = Date.now() + withinMs;
    for (let attempts = 1; Date.now() < deadline; attempts++) {
      const ports = clientPorts();
      // A cut at a random moment took a median 32 tries (up to 111) to land in a transaction,
      // and a sale sometimes sold out first; a transaction lasts milliseconds, a look takes one.
      while (Date.now() < deadline && !(await sessionsOf(db, ports)).some((r) => r.holds_row)) await sleep(1);
      cut();
      let sessions: ServiceSession[] = [];
      for (let waited = 0; waited <= 500; waited += 10) {
        sessions = await sessionsOf(db, ports);
        if (!sessions.some((r) => r.state === 'active')) break;
        await sleep(10);
      }
      const holder = sessions.find((r) => r.state === 'idle in transaction' && r.holds_row);
      if (holder && (await rowIsLocked(db, sale.couponName))) return { backendPid: holder.pid, clientPort: holder.client_port, attempts };
      restore();
      await sleep(5 + Math.random() * 40);
    }
    return null;
  });
}

/** Whether someone holds the coupon's row lock, asked without waiting and without keeping it. */
async function rowIsLocked(db: Client, couponName: string): Promise<boolean> {
  await db.query('BEGIN');
  try {
    await db.query('SELECT id FROM coupons WHERE name = $1 FOR UPDATE NOWAIT', [couponName]);
    return false;
  } catch (error) {
    if ((error as { code?: string }).code === '55P03') return true;
    throw error;
  } finally {
    await db.query('ROLLBACK');
  }
}

/** What the rest of the system did while one process stayed cut off; milliseconds from the cut. */
interface WhileStuck {
  firstGrantMs: number | null;
  soldOutMs: number | null;
  sessionEndedMs: number | null;
  rowsAtCut: number;
  remainingAtCut: number;
}

async function watchWhileStuck(sale: SaleContext, stuck: StuckSession, forMs: number): Promise<WhileStuck> {
  return withDatabase(sale.group.databaseUrl, async (db) => {
    const started = performance.now();
    const read = async () => {
      const { rows } = await db.query(
        `SELECT c.remaining_amount, (SELECT count(*)::int FROM user_claims uc WHERE uc.coupon_id = c.id) AS rows,
                EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $2) AS session_alive
           FROM coupons c WHERE c.name = $1`,
        [sale.couponName, stuck.backendPid],
      );
      return rows[0] as { remaining_amount: number; rows: number; session_alive: boolean };
    };
    const first = await read();
    const seen: WhileStuck = { firstGrantMs: null, soldOutMs: null, sessionEndedMs: null, rowsAtCut: first.rows, remainingAtCut: first.remaining_amount };
    while (performance.now() - started < forMs) {
      const now = await read();
      const at = Math.round(performance.now() - started);
      if (seen.firstGrantMs === null && now.rows > first.rows) seen.firstGrantMs = at;
      if (seen.soldOutMs === null && now.remaining_amount === 0) seen.soldOutMs = at;
      if (seen.sessionEndedMs === null && !now.session_alive) seen.sessionEndedMs = at;
      await sleep(100);
    }
    return seen;
  });
}

/**
 * Scenarios 9 and 10: cut one process off while it holds the coupon row (see cutWhileHoldingRow),
 * keep it out of the clients' rotation for `forMs` as a load balancer whose health checks time
 * out would, watch the others, restore it, and check that the others went on. Null (with a
 * failed check) when the cut never landed on a held row.
 */
async function holdCutOffWithRow(
  sale: SaleContext,
  how: {
    url: string; clientPorts: () => Set<number>; cut: () => void; restore: () => void; forMs: number; cutWord: string; who: string;
    /** Runs from the catch until the restore, beside the watch (probes of the stuck process). */
    during?: (caught: StuckSession) => Promise<void>;
  },
): Promise<{ caught: StuckSession; seen: WhileStuck } | null> {
  const caught = await cutWhileHoldingRow(sale, how.clientPorts, how.cut, how.restore);
  sale.check(
    `${how.cutWord} while a session of it sat idle in transaction holding the coupon row (pg_stat_activity, pg_locks, FOR UPDATE NOWAIT refused)`,
    caught !== null,
    caught ? `caught on attempt ${caught.attempts}` : 'not caught within 20 s',
  );
  if (!caught) return null;
  sale.http.setInRotation(how.url, false);
  const [seen] = await Promise.all([watchWhileStuck(sale, caught, how.forMs), how.during?.(caught)]);
  how.restore();
  sale.http.setInRotation(how.url, true);
  checkOthersWentOn(sale, seen, how.who, how.forMs);
  return { caught, seen };
}

/** The liveness checks of a process cut off mid-transaction: the others go on, and soon. */
function checkOthersWentOn(sale: SaleContext, seen: WhileStuck, who: string, forMs: number): void {
  sale.check(
    `first grant through the other process within 10 s of ${who}`,
    seen.firstGrantMs !== null && seen.firstGrantMs < 10_000,
    `first new row ${seen.firstGrantMs ?? 'never'} ms after the cut (rows then: ${seen.rowsAtCut}, remaining ${seen.remainingAtCut})`,
  );
  sale.check(
    `the rest of the stock sold while ${who} lasted (${forMs / 1000} s)`,
    seen.soldOutMs !== null,
    `sold out ${seen.soldOutMs ?? 'not'} ms after the cut`,
  );
}

const scenario = (id: number, title: string, spec: Omit<FaultSale, 'id' | 'title'>): FaultScenario => ({
  id,
  title,
  run: () => runFaultSale({ id, title, ...spec }),
});

export const FAULT_SCENARIOS: FaultScenario[] = [
  scenario(1, 'Scale-out: 3 API processes share PostgreSQL and a 3-node Redlock quorum', {
    processes: 3, redisNodes: 3, users: 5000, stock: 500, concurrency: 120, doubleDip: 10, expect: 'exact',
  }),
  scenario(2, 'One Redis node killed mid-sale (quorum 2 of 3 holds)', {
    processes: 3, redisNodes: 3, users: 1000, stock: 300, expect: 'exact', faultAt: 0.2,
    fault: async (sale) => {
      await sale.nodes[0].kill();
      sale.note('node 1 of 3 SIGKILLed at 20% of the claims answered');
    },
  }),
  scenario(3, 'Two of three Redis nodes killed, then restarted', {
    processes: 3, redisNodes: 3, users: 1000, stock: 300, expect: 'exact', faultAt: 0.2,
    fault: async (sale) => {
      await Promise.all([sale.nodes[0].kill(), sale.nodes[1].kill()]);
      const probe = await probeClaim(sale);
      sale.check(
        'quorum lost: a claim answers 503 LOCK_UNAVAILABLE within 5 s and writes nothing',
        probe.status === 503 && probe.code === 'LOCK_UNAVAILABLE' && probe.elapsedMs < 5000 && !probe.wrote,
        `${probe.status} ${probe.code} after ${probe.elapsedMs} ms, row written: ${probe.wrote}`,
      );
      await sleep(1000);
      await Promise.all([sale.nodes[0].restart(), sale.nodes[1].restart()]);
      sale.note(`nodes 1 and 2 SIGKILLed at 20%; probe claim: ${probe.status} ${probe.code} in ${probe.elapsedMs} ms; restarted ~1 s later`);
    },
  }),
  scenario(4, 'One API process SIGKILLed mid-sale', {
    processes: 3, redisNodes: 3, users: 1000, stock: 300, expect: 'every-200-is-a-row', faultAt: 0.2,
    // A claim in flight on the killed process may have committed without its client hearing.
    rowWithout200Allowed: (record) => record?.status === 0,
    fault: async (sale) => {
      sale.group.processes[2].signal('SIGKILL');
      await sale.group.processes[2].exited;
      sale.note('API process 3 of 3 SIGKILLed at 20%; its clients get no answer (NO_ANSWER), the load balancer-less pool keeps trying it');
    },
    after: async (sale) => {
      const db = await databaseSnapshot(sale.group.databaseUrl, sale.couponName);
      sale.check('the others went on: the stock sold out', db?.remaining_amount === 0, `remaining ${db?.remaining_amount}`);
    },
  }),
  scenario(5, 'Lock TTL far below the transaction time (leases expire mid-transaction)', {
    // The row must be held while claims still reach a batch, but the fault starts only at a
    // progress tick (every 200 ms). 1,000 users / 300 stock could sell out before that (1 run in
    // 6 saw no lease expire); 3,000 / 3,000 keeps the sale going for well over a second.
    processes: 2, redisNodes: 3, users: 3000, stock: 3000, expect: 'exact', faultAt: 0.05,
    env: { LOCK_TTL_MS: '100' },
    fault: async (sale) => {
      // The test's own transaction holds the coupon row, so the service's settle waits
      // past the 100 ms lease and a second process takes the expired lock meanwhile.
      // Each hold lasts until a service batch is seen queued behind it (not a lucky sleep: a hold
      // that fell between batches once left no lease to expire), then 400 ms more.
      let caught = 0;
      await withDatabase(sale.group.databaseUrl, async (db) => {
        for (let i = 0; i < 4; i++) {
          await db.query('BEGIN');
          if (await lockRowUntilQueuedBehind(db, sale.couponName, 3000)) caught++;
          await sleep(400);
          await db.query('COMMIT');
          await sleep(100);
        }
      });
      sale.note(`LOCK_TTL_MS=100; the coupon row held FOR UPDATE by the test 4 times, ${caught} of them with a batch seen waiting, then 400 ms more`);
    },
    after: async (sale) => {
      const lost = sale.group.processes.reduce((sum, p) => sum + p.count(LOCK_LOST), 0);
      sale.check('the log says the lock was lost', lost > 0, `${lost} "lock ... was lost (lease expired)" warnings`);
      sale.note(`${lost} lock-lost warnings in the logs`);
    },
  }),
  scenario(6, "PostgreSQL connections cut mid-sale (pg_terminate_backend of the service's sessions)", {
    processes: 3, redisNodes: 3, users: 1000, stock: 300, expect: 'every-200-is-a-row', faultAt: 0.05,
    // No row without a 200: a session cut while its COMMIT was under way is looked up
    // (CommitConfirmation.confirmCommit), so a claim that committed is answered 200, never 503.
    fault: async (sale) => {
      // The test holds the coupon row first, so the service's settles are waiting inside their
      // transactions when their sessions are cut: a cut that only hit idle pooled connections
      // would test nothing a client can see.
      let terminated = 0;
      await withDatabase(sale.group.databaseUrl, async (db) => {
        for (let i = 0; i < 3; i++) {
          await db.query('BEGIN');
          // Cut only once a service transaction is queued behind our row lock (at most 2 s):
          // a fixed pause could let a fast sale slip past, and then the cut tests nothing.
          await lockRowUntilQueuedBehind(db, sale.couponName, 2000);
          const { rows } = await db.query(
            `SELECT pg_terminate_backend(pid) AS done FROM pg_stat_activity
              WHERE datname = current_database() AND application_name = 'flash-sale-coupons' AND pid <> pg_backend_pid()`,
          );
          await db.query('COMMIT');
          terminated += rows.filter((r: { done: boolean }) => r.done).length;
          await sleep(200);
        }
      });
      sale.check('service sessions were terminated', terminated > 0, `${terminated} sessions terminated`);
      sale.note(`3 rounds: the test holds the coupon row until a service transaction waits on it, then terminates every service session (${terminated} in all)`);
    },
    after: async (sale, run) => {
      const db = await databaseSnapshot(sale.group.databaseUrl, sale.couponName);
      sale.check('recovered by itself: the stock sold out', db?.remaining_amount === 0, `remaining ${db?.remaining_amount}`);
      const unavailable = (run.retryableSeen.DATABASE_UNAVAILABLE ?? 0) + run.records.filter((r) => r.code === 'DATABASE_UNAVAILABLE').length;
      sale.check('clients were told 503 DATABASE_UNAVAILABLE', unavailable > 0, `${unavailable} answers were 503 DATABASE_UNAVAILABLE`);
    },
  }),
  scenario(7, 'A Redis node that accepts connections but never answers (SIGSTOP)', {
    processes: 3, redisNodes: 3, users: 1000, stock: 300, expect: 'exact', faultAt: 0.2,
    fault: async (sale) => {
      sale.nodes[2].pause();
      sale.note('node 3 of 3 SIGSTOPped at 20% (REDIS_COMMAND_TIMEOUT_MS=300) until the sale ended');
    },
    after: async (sale, run) => {
      sale.nodes[2].resume();
      const slowest = Math.max(...run.records.map((r) => r.latencyMs));
      sale.check('no claim hung: every answer within 5 s', slowest < 5000, `slowest answer ${Math.round(slowest)} ms`);
      sale.note(`slowest answer ${Math.round(slowest)} ms`);
    },
  }),
  scenario(8, 'One API process sent SIGTERM mid-sale (graceful drain)', {
    processes: 2, redisNodes: 3, users: 1000, stock: 300, expect: 'every-200-is-a-row', faultAt: 0.2,
    env: { SHUTDOWN_TIMEOUT_MS: '10000' },
    // A drain answers every request it accepted: no row may lack its 200.
    rowWithout200Allowed: () => false,
    fault: async (sale) => {
      const target = sale.group.processes[1];
      const started = Date.now();
      target.signal('SIGTERM');
      const code = await target.exited;
      const tookMs = Date.now() - started;
      sale.check('the drained process exits 0 within SHUTDOWN_TIMEOUT_MS', code === 0 && tookMs < 10000, `exit ${code} after ${tookMs} ms`);
      sale.note(`API process 2 of 2 got SIGTERM at 20%; exit ${code} after ${tookMs} ms; later requests to it are refused (NO_ANSWER)`);
    },
    after: async (sale) => {
      const db = await databaseSnapshot(sale.group.databaseUrl, sale.couponName);
      sale.check('the other process went on: the stock sold out', db?.remaining_amount === 0, `remaining ${db?.remaining_amount}`);
    },
  }),
  scenario(9, 'An API process frozen (SIGSTOP) for 25 s while it holds the coupon row', {
    // Clients wait out the freeze (60 s timeout) so the frozen process's answers are judged too.
    processes: 2, redisNodes: 3, users: 1200, stock: 1000, expect: 'exact', faultAt: 0.05, requestTimeoutMs: 60_000,
    // A frozen process answers nobody until it wakes. Its claims stuck for 3 s stop holding the
    // crowd's 60 places (new users keep arriving at the others): when it froze holding every one
    // (lock turns pile the clients on one process; 5 runs in 9 on 2026-11-29), nothing reached
    // the other process for the whole freeze, which tests the crowd, not the service.
    slotReleaseAfterMs: 3000,
    fault: async (sale) => {
      const stuck = sale.group.processes[1];
      const frozenMs = 25_000;
      const held = await holdCutOffWithRow(sale, {
        url: stuck.url, clientPorts: () => localTcpPortsOf(stuck.pid), cut: () => stuck.signal('SIGSTOP'), restore: () => stuck.signal('SIGCONT'),
        forMs: frozenMs, cutWord: 'frozen', who: 'the freeze',
      });
      if (!held) return;
      const { caught, seen } = held;
      sale.note(
        `API process 2 of 2 SIGSTOPped on attempt ${caught.attempts} with backend ${caught.backendPid} idle in transaction holding the coupon row; ` +
          `PostgreSQL ended that session ${seen.sessionEndedMs ?? 'never'} ms in; first new grant ${seen.firstGrantMs ?? 'never'} ms in; ` +
          `sold out ${seen.soldOutMs ?? 'not'} ms in; SIGCONT after ${frozenMs / 1000} s (out of the clients' rotation meanwhile)`,
      );
    },
    after: async (sale) => {
      // Its stuck batch must fail on waking (its session is gone): a commit there would be a 200 on a row
      // the others may have sold meanwhile. The exact checks above hold it to every answer it gave.
      const failed = sale.group.processes[1].count(/failed, database unavailable/);
      sale.check('on waking, the frozen process reported its stuck batch failed (database unavailable)', failed > 0, `${failed} such warnings`);
    },
  }),
  scenario(10, "One API process's link to PostgreSQL blackholed mid-transaction for 12 s, then restored", {
    // Less stock than 9: the rest must sell within the 12 s cut, after the stuck lease runs out (~5 s).
    processes: 2, redisNodes: 3, users: 1000, stock: 700, expect: 'exact', faultAt: 0.05, requestTimeoutMs: 60_000, databaseLinkOf: 1,
    fault: async (sale) => {
      const cutOff = sale.group.processes[1];
      const link = sale.databaseLink!;
      const cutMs = 12_000;
      const stuckBatchFailed = () => cutOff.count(/failed, database unavailable/);
      const failedBefore = stuckBatchFailed();
      const probes: string[] = [];
      /** A claim sent straight to the cut-off process must be answered 503 `code` within `withinMs`. */
      const probe503 = async (what: string, checkName: string, code: string, withinMs: number) => {
        const answer = await claimThrough(cutOff.url, sale);
        const seen = `${answer.status} ${answer.code} after ${answer.elapsedMs} ms`;
        probes.push(`${what}: ${seen}`);
        sale.check(checkName, answer.status === 503 && answer.code === code && answer.elapsedMs < withinMs, seen);
      };
      const held = await holdCutOffWithRow(sale, {
        url: cutOff.url, clientPorts: () => new Set(link.upstreamPorts()), cut: () => link.set('blackhole'), restore: () => link.set('forward'),
        forMs: cutMs, cutWord: 'blackholed', who: 'the partition',
        during: async (caught) => {
          const caughtAt = Date.now();
          // Sent straight to the cut-off process, as by a client that chose it before the load
          // balancer noticed: it queues behind the stuck batch, and must not wait for the link.
          await probe503(
            'claim queued behind the stuck batch',
            'a claim queued behind the stuck batch is answered 503 LOCK_BUSY within CLAIM_QUEUE_TIMEOUT_MS (5 s) + 1.5 s, unsettled',
            'LOCK_BUSY',
            6500,
          );
          // Once the stuck batch has failed (not when its COMMIT is the unanswered statement: it
          // must learn the outcome first), the next batch asks PostgreSQL before taking the lease.
          for (let waited = 0; stuckBatchFailed() === failedBefore && waited < 6000; waited += 100) await sleep(100);
          // Its unanswered statement times out after the statement timeout + 1 s (6 s); the process
          // must then close that connection, not send a ROLLBACK into it and wait 6 s more.
          while (!link.clientClosed(caught.clientPort) && Date.now() - caughtAt < 7500) await sleep(100);
          sale.check(
            'the cut-off process closed the stuck connection within the statement timeout + 2.5 s, instead of a ROLLBACK into it',
            link.clientClosed(caught.clientPort),
            link.clientClosed(caught.clientPort) ? `closed ${Date.now() - caughtAt} ms after the catch (or earlier)` : 'still open 7.5 s after the catch',
          );
          if (stuckBatchFailed() === failedBefore) {
            probes.push('the stuck batch was still waiting (its COMMIT unanswered), no second probe');
            return;
          }
          // A batch that took the lease would wait out a query timeout (6 s) on the dead link; one
          // that asks first answers after HEALTH_TIMEOUT_MS (twice, if a batch of others is ahead).
          await probe503(
            'claim after the stuck batch failed',
            'after its stuck batch failed, the cut-off process answers 503 DATABASE_UNAVAILABLE without taking the coupon lock (within 2 x HEALTH_TIMEOUT_MS + 1 s)',
            'DATABASE_UNAVAILABLE',
            3000,
          );
        },
      });
      for (const probe of probes) sale.note(probe);
      if (!held) return;
      const { caught, seen } = held;
      sale.note(
        `the proxy between API process 2 and PostgreSQL stopped forwarding (no close, no reset) on attempt ${caught.attempts}; ` +
          `PostgreSQL ended the stuck session ${seen.sessionEndedMs ?? 'never'} ms in; first new grant ${seen.firstGrantMs ?? 'never'} ms in; ` +
          `sold out ${seen.soldOutMs ?? 'not'} ms in; link restored after ${cutMs / 1000} s (process out of the clients' rotation meanwhile)`,
      );
    },
  }),
  scenario(11, 'The link to one Redis node blackholed mid-sale (quorum 2 of 3 holds)', {
    processes: 3, redisNodes: 3, users: 1000, stock: 300, expect: 'exact', faultAt: 0.2, redisLinkTo: { node: 0 },
    fault: async (sale) => {
      sale.redisLink!.set('blackhole');
      sale.note('the proxy between every API process and node 1 of 3 stopped forwarding at 20% (connections stay open) until the sale ended');
    },
    after: async (sale, run) => {
      const slowest = Math.max(...run.records.map((r) => r.latencyMs));
      sale.check('no claim hung: every answer within 5 s', slowest < 5000, `slowest answer ${Math.round(slowest)} ms`);
      sale.note(`slowest answer ${Math.round(slowest)} ms`);
    },
  }),
  scenario(12, 'One Redis node 200 ms away (100 ms each way) for the whole sale', {
    processes: 3, redisNodes: 3, users: 1000, stock: 300, expect: 'exact', redisLinkTo: { node: 0, delayMs: 100 },
    after: async (sale, run) => {
      const rtt = await pingThrough(sale.redisLink!.port);
      sale.check('the slow link was slow: a PING through it took 200 ms or more', rtt >= 200, `PING ${Math.round(rtt)} ms`);
      const p99 = run.latency.getValueAtPercentile(99) / 1000;
      sale.note(`PING through the slow link ${Math.round(rtt)} ms; claim answers p50 ${Math.round(run.latency.getValueAtPercentile(50) / 1000)} ms, p99 ${Math.round(p99)} ms`);
    },
  }),
  scenario(13, "One API process's wall clock jumped 30 s forward mid-sale (libfaketime)", {
    processes: 2, redisNodes: 3, users: 1000, stock: 300, expect: 'exact', faultAt: 0.2, fakeClockOf: 1,
    fault: async (sale) => {
      const jumped = sale.group.processes[1];
      // A second coupon whose sale opens 20 s from now by the database's clock: 10 s ago by the jumped one's.
      const admin = await login(sale.http, sale.group.adminUser, sale.group.adminPassword);
      const later = `${sale.couponName}_LATER`;
      const opensAt = await withDatabase(sale.group.databaseUrl, async (db) => (await db.query(`SELECT now() + interval '20 seconds' AS at`)).rows[0].at as Date);
      const created = await sale.http.request('POST', '/api/coupons', { name: later, amount: 10, starts_at: opensAt.toISOString() }, admin);
      if (created.status !== 201) throw new Error(`creating ${later}: ${created.status} ${JSON.stringify(created.body)}`);

      writeFileSync(sale.clockFile!, '+30s\n');
      let aheadMs = 0;
      for (let waited = 0; waited < 5000 && aheadMs < 25_000; waited += 250) {
        await sleep(250);
        const answer = await fetch(`${jumped.url}/api/healthcheck`);
        aheadMs = Date.parse(answer.headers.get('date') ?? '') - Date.now();
      }
      sale.check("the jumped process's clock is 30 s ahead (its HTTP Date header)", aheadMs >= 25_000, `${Math.round(aheadMs / 1000)} s ahead`);

      const probe = await fetch(`${jumped.url}/api/coupons/claim`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${sale.probe.token}` },
        body: JSON.stringify({ coupon_name: later }),
      });
      const body = (await probe.json()) as { code?: string };
      const retryAfter = Number(probe.headers.get('retry-after'));
      sale.check(
        'the sale window is judged by the database clock: through the jumped process, a sale opening in 20 s answers 409 SALE_NOT_STARTED',
        probe.status === 409 && body.code === 'SALE_NOT_STARTED' && retryAfter >= 1 && retryAfter <= 20,
        `${probe.status} ${body.code}, Retry-After ${retryAfter}`,
      );
      sale.note(`API process 2 of 2 runs under libfaketime; its wall clock jumped +30 s at 20% (monotonic clock untouched); probe on a sale opening in 20 s: ${probe.status} ${body.code}, Retry-After ${retryAfter} s`);
    },
    after: async (sale) => {
      // Leases are timed on the monotonic clock: the jump neither ends one early (a false
      // "lost" warning) nor, backwards, keeps one trusted past its real expiry.
      const lost = sale.group.processes[1].count(LOCK_LOST);
      sale.check('no lease judged by the jumped wall clock: no "lock lost" warning on the jumped process', lost === 0, `${lost} lock-lost warnings`);
    },
  }),
];

/** One PING through a Redis link, in milliseconds. */
async function pingThrough(port: number): Promise<number> {
  const client = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const started = performance.now();
    await client.ping();
    return performance.now() - started;
  } finally {
    client.disconnect();
  }
}
