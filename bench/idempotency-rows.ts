import { randomUUID } from 'node:crypto';
import { runSale } from '../harness/claim-runner';
import { HttpAnswer, HttpPool, runBounded } from '../harness/http-pool';
import { startSelfHostedService } from '../harness/self-hosted-service';
import { SaleUser, login, seedUsers } from '../harness/user-seeder';
import type { BenchTarget } from './bench-result';

/**
 * The Idempotency-Key rows of `npm run bench` (alone: `npm run bench:keys`): one service as
 * shipped, one crowd of users; each turn sells one coupon with no key on any claim and one with
 * a key on every claim (the order alternating), then every user claims both sold-out coupons
 * again, without keys and with a fresh key each (every keyed refusal is written under its key).
 * The row shows the turn with the median grants ratio and the turn with the median sold-out
 * ratio: this shared machine's speed swings within a minute, so only numbers of one moment compare.
 */
export interface KeyTurn {
  grantsPerSecondWithout: number;
  grantsPerSecondWith: number;
  soldOutPerSecondWithout: number;
  soldOutPerSecondWith: number;
}

export interface KeyRowsResult {
  users: number;
  stock: number;
  concurrency: number;
  turns: KeyTurn[];
  /** The turns of the median ratios. */
  grants: KeyTurn;
  soldOut: KeyTurn;
  failures: string[];
}

const USERS = Number(process.env.BENCH_KEYS_USERS ?? 10_000);
const STOCK = Math.min(Number(process.env.BENCH_KEYS_STOCK ?? 1_000), USERS);
const CONCURRENCY = 256;
const TURNS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3) || 1);
/** The issue's bound: a key on every claim costs at most a tenth of the throughput. */
export const KEY_RATIO_TARGET = 0.9;

const round = (n: number) => Math.round(n * 10) / 10;
const isCheapAnswer = (answer: HttpAnswer) => answer.body?.code === 'SOLD_OUT' || answer.body?.code === 'ALREADY_CLAIMED';

/** Grants per second until the stock was gone, with or without a key on every claim. */
async function salePerSecond(http: HttpPool, users: SaleUser[], coupon: string, keys: boolean, failures: string[]): Promise<number> {
  const run = await runSale({
    http,
    couponName: coupon,
    users,
    stock: STOCK,
    concurrency: CONCURRENCY,
    doubleDip: 0,
    seed: 11,
    durationSeconds: 300,
    retries: 5,
    retryDelayMs: 100,
    idempotencyKeys: keys,
  });
  const granted = run.records.filter((r) => r.status === 200).length;
  if (granted !== STOCK) failures.push(`${coupon}: ${granted} grants of ${STOCK}`);
  run.latency.destroy();
  return round(granted / ((run.soldOutAtMs ?? run.durationMs) / 1000));
}

/** Every user claims the sold-out coupon once more; cheap refusals answered per second. */
async function soldOutPerSecond(http: HttpPool, users: SaleUser[], coupon: string, keys: boolean, failures: string[]): Promise<number> {
  let answered = 0;
  const started = performance.now();
  await runBounded(users, CONCURRENCY, async (user) => {
    const headers = keys ? { 'idempotency-key': randomUUID() } : undefined;
    const answer = await http.request('POST', '/api/coupons/claim', { coupon_name: coupon }, user.token, headers);
    if (isCheapAnswer(answer)) answered++;
  });
  if (answered !== users.length)
    failures.push(`${coupon} ${keys ? 'with' : 'without'} keys: ${users.length - answered} answers other than SOLD_OUT/ALREADY_CLAIMED`);
  return round(answered / ((performance.now() - started) / 1000));
}

export async function measureKeyRows(log: (line: string) => void): Promise<KeyRowsResult> {
  const service = await startSelfHostedService({});
  const http = new HttpPool([service.url], CONCURRENCY, 60_000);
  const failures: string[] = [];
  try {
    const admin = await login(http, service.adminUser, service.adminPassword);
    const { users } = await seedUsers({
      http,
      databaseUrl: service.databaseUrl,
      prefix: 'benchkeys_',
      count: USERS,
      password: 'bench-password-1',
      concurrency: 64,
    });
    const turns: KeyTurn[] = [];
    for (let turn = 0; turn < TURNS; turn++) {
      const plain = `KEYS_${turn}_PLAIN`;
      const keyed = `KEYS_${turn}_KEYED`;
      for (const name of [plain, keyed]) await http.request('POST', '/api/coupons', { name, amount: STOCK }, admin);
      const keyedFirst = turn % 2 === 1;
      const t: KeyTurn = { grantsPerSecondWithout: 0, grantsPerSecondWith: 0, soldOutPerSecondWithout: 0, soldOutPerSecondWith: 0 };
      for (const keys of keyedFirst ? [true, false] : [false, true]) {
        const rate = await salePerSecond(http, users, keys ? keyed : plain, keys, failures);
        if (keys) t.grantsPerSecondWith = rate;
        else t.grantsPerSecondWithout = rate;
      }
      for (const keys of keyedFirst ? [true, false] : [false, true]) {
        const rate = await soldOutPerSecond(http, users, keys ? keyed : plain, keys, failures);
        if (keys) t.soldOutPerSecondWith = rate;
        else t.soldOutPerSecondWithout = rate;
      }
      log(`keys turn ${turn + 1}: ${JSON.stringify(t)}`);
      turns.push(t);
    }
    const median = (ratio: (t: KeyTurn) => number) => [...turns].sort((x, y) => ratio(x) - ratio(y))[Math.floor(turns.length / 2)];
    return {
      users: USERS,
      stock: STOCK,
      concurrency: CONCURRENCY,
      turns,
      failures,
      grants: median((t) => t.grantsPerSecondWith / t.grantsPerSecondWithout),
      soldOut: median((t) => t.soldOutPerSecondWith / t.soldOutPerSecondWithout),
    };
  } finally {
    await http.close();
    await service.stop();
  }
}

export function keyRowsTable(result: KeyRowsResult): string {
  const ratio = (a: number, b: number) => (b > 0 ? (a / b).toFixed(2) : '-');
  return [
    `| Idempotency-Key (${result.users} users, stock ${result.stock}, concurrency ${result.concurrency}) | without keys | with a key on every claim | ratio |`,
    '|---|---|---|---|',
    `| grants/s | ${result.grants.grantsPerSecondWithout} | ${result.grants.grantsPerSecondWith} | ${ratio(result.grants.grantsPerSecondWith, result.grants.grantsPerSecondWithout)} |`,
    `| sold-out ans/s | ${result.soldOut.soldOutPerSecondWithout} | ${result.soldOut.soldOutPerSecondWith} | ${ratio(result.soldOut.soldOutPerSecondWith, result.soldOut.soldOutPerSecondWithout)} |`,
  ].join('\n');
}

export function keyTargets(result: KeyRowsResult): BenchTarget[] {
  const g = result.grants;
  const s = result.soldOut;
  const grantsRatio = g.grantsPerSecondWith / g.grantsPerSecondWithout;
  const soldOutRatio = s.soldOutPerSecondWith / s.soldOutPerSecondWithout;
  return [
    {
      name: `grants/s with a key on every claim >= ${KEY_RATIO_TARGET}x without`,
      passed: grantsRatio >= KEY_RATIO_TARGET && result.failures.length === 0,
      detail: `${g.grantsPerSecondWith} vs ${g.grantsPerSecondWithout} = ${grantsRatio.toFixed(2)}x (median of ${result.turns.length} turns)${result.failures.length ? `; ${result.failures.join('; ')}` : ''}`,
    },
    {
      name: `sold-out answers/s with keys >= ${KEY_RATIO_TARGET}x without`,
      passed: soldOutRatio >= KEY_RATIO_TARGET,
      detail: `${s.soldOutPerSecondWith} vs ${s.soldOutPerSecondWithout} = ${soldOutRatio.toFixed(2)}x (median of ${result.turns.length} turns)`,
    },
  ];
}
