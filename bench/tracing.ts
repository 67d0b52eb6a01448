import { IncomingMessage, Server, createServer } from 'node:http';
import { withDatabase } from '../harness/database-checks';
import { HttpPool } from '../harness/http-pool';
import { loadConfig } from '../src/config/config.loader';
import { SelfHostedService, startSelfHostedService } from '../harness/self-hosted-service';
import { SaleUser, login, seedUsers } from '../harness/user-seeder';
import type { BenchTarget } from './bench-result';

/**
 * `npm run bench:tracing`: grants per second with tracing on, as shipped (TRACING_SAMPLE_PERCENT's
 * default) and with every request traced, spans exported over OTLP/HTTP to a receiver this
 * process runs on loopback, against the same service with tracing off. Three services run side
 * by side on their own databases; in each round every side sells a fresh coupon of one unit per
 * user, claimed once by every user, CLAIMERS at a time (every answer a grant that takes the
 * queue, the lock and a transaction), the order rotating round by round. Each ratio comes from
 * one round (this machine's speed drifts within a run); the row shows the round of the median.
 */
const USERS = Math.max(10, Number(process.env.BENCH_TRACING_USERS ?? 4000) || 4000);
const ROUNDS = Math.max(1, Number(process.env.BENCH_TRACING_ROUNDS ?? 7) || 7);
const CLAIMERS = 64;
const WARM_UP_CLAIMS = Math.min(USERS, 1000);
/** Each traced side exports under its own service.name, so the receiver can tell their spans apart. */
const ON_SERVICE = 'bench-tracing-as-shipped';
const EVERY_SERVICE = 'bench-tracing-every-request';
const TARGET_RATIO = 0.9;

const SPAN_KIND = Buffer.from('"kind":');

function occurrences(haystack: Buffer, needle: Buffer): number {
  let count = 0;
  for (let at = haystack.indexOf(needle); at >= 0; at = haystack.indexOf(needle, at + needle.length)) count++;
  return count;
}

/** A stand-in OTLP/HTTP collector: accepts every POST to /v1/traces and counts the spans in it. */
class CountingReceiver {
  posts = 0;
  spans = 0;
  /** Spans by the service.name of the post they came in (each side exports under its own name). */
  readonly spansOf = new Map<string, number>();
  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(): Promise<CountingReceiver> {
    let receiver!: CountingReceiver;
    const server = createServer(
      (req, res) => void receiver.accept(req).then(() => res.writeHead(200, { 'content-type': 'application/json' }).end('{}')),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    receiver = new CountingReceiver(server, `http://127.0.0.1:${(server.address() as { port: number }).port}/v1/traces`);
    return receiver;
  }

  private async accept(req: IncomingMessage): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    this.posts++;
    // Counted, not parsed: a collector runs elsewhere in a deployment, and JSON.parse of every
    // export here would bill the traced side for this process's own work on the same two cores.
    // Every span of an OTLP/JSON export has exactly one "kind" field (its links, events and
    // status have none).
    const body = Buffer.concat(chunks);
    const spans = occurrences(body, SPAN_KIND);
    this.spans += spans;
    const service = /"service\.name","value":\{"stringValue":"([^"]+)"/.exec(body.toString('utf8', 0, 2000))?.[1] ?? '?';
    this.spansOf.set(service, (this.spansOf.get(service) ?? 0) + spans);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

interface Side {
  service: SelfHostedService;
  http: HttpPool;
  admin: string;
  users: SaleUser[];
}

export interface TracingBenchResult {
  users: number;
  rounds: number;
  claimers: number;
  /** The sampling the service ships with (TRACING_SAMPLE_PERCENT's default), the "on" side's. */
  defaultSamplePercent: number;
  offPerSecond: number;
  onPerSecond: number;
  /** Every request traced and exported (TRACING_SAMPLE_PERCENT=100): the cost of full tracing, and off in the same round. */
  everyPerSecond: number;
  everyOffPerSecond: number;
  passes: { off: number; on: number; every: number }[];
  spansExported: number;
  /** Of them, the spans of the side as shipped: proof that its sampled requests were exported. */
  onSpansExported: number;
  exportPosts: number;
}

const round = (n: number) => Math.round(n * 10) / 10;

async function prepare(env: Record<string, string>): Promise<Side> {
  const service = await startSelfHostedService({ CLAIM_RATE_LIMIT_PER_USER: '0', LOG_LEVEL: 'warn', ...env });
  const http = new HttpPool([service.url], CLAIMERS, 30_000);
  const admin = await login(http, service.adminUser, service.adminPassword);
  const { users } = await seedUsers({
    http,
    databaseUrl: service.databaseUrl,
    prefix: 'traced_',
    count: USERS,
    password: 'bench-password-1',
    concurrency: 16,
  });
  // Settled before measuring: the statistics and visibility map of the fresh users table, which
  // autovacuum would otherwise build in the middle of a pass.
  await withDatabase(service.databaseUrl, (db) => db.query('VACUUM ANALYZE'));
  return { service, http, admin, users };
}

/** One coupon of USERS units, every user claims it once; grants per second. */
async function pass(side: Side, coupon: string): Promise<number> {
  const created = await side.http.request('POST', '/api/coupons', { name: coupon, amount: side.users.length }, side.admin);
  if (created.status !== 201) throw new Error(`coupon ${coupon}: ${created.status} ${JSON.stringify(created.body)}`);
  let next = 0;
  let granted = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CLAIMERS }, async () => {
      while (next < side.users.length) {
        const user = side.users[next++];
        const answer = await side.http.request('POST', '/api/coupons/claim', { coupon_name: coupon }, user.token);
        if (answer.status !== 200)
          throw new Error(`claim of ${coupon} by ${user.username}: ${answer.status} ${JSON.stringify(answer.body)}`);
        granted++;
      }
    }),
  );
  return granted / ((performance.now() - started) / 1000);
}

export async function measureTracing(log: (line: string) => void): Promise<TracingBenchResult> {
  const receiver = await CountingReceiver.start();
  const sides: Side[] = [];
  try {
    sides.push(await prepare({}));
    sides.push(await prepare({ TRACING_OTLP_ENDPOINT: receiver.url, TRACING_SERVICE_NAME: ON_SERVICE }));
    sides.push(await prepare({ TRACING_OTLP_ENDPOINT: receiver.url, TRACING_SERVICE_NAME: EVERY_SERVICE, TRACING_SAMPLE_PERCENT: '100' }));
    const names = ['off', 'on', 'every'] as const;
    // Each side's claim path (and the exporter) runs hot before anything is measured.
    for (const side of sides) await pass({ ...side, users: side.users.slice(0, WARM_UP_CLAIMS) }, 'WARM_UP');
    const passes: { off: number; on: number; every: number }[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      // The order rotates: no side always runs on a machine another one just warmed.
      const rates = { off: 0, on: 0, every: 0 };
      for (let k = 0; k < sides.length; k++) {
        const index = (i + k) % sides.length;
        rates[names[index]] = round(await pass(sides[index], `TRACING_${names[index].toUpperCase()}_${i}`));
      }
      passes.push(rates);
      log(
        `round ${i + 1}/${ROUNDS}: off ${rates.off}/s, on ${rates.on}/s, every request traced ${rates.every}/s; ${receiver.spans} spans in ${receiver.posts} exports so far`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 2000));
    // Each ratio from the passes of one round (this machine's speed drifts within a run): the
    // rows show the round of the median ratio, as the other bench rows do.
    const medianRound = (side: 'on' | 'every') =>
      [...passes].sort((a, b) => a[side] / a.off - b[side] / b.off)[Math.floor(passes.length / 2)];
    const on = medianRound('on');
    const every = medianRound('every');
    return {
      users: USERS,
      rounds: ROUNDS,
      claimers: CLAIMERS,
      defaultSamplePercent: loadConfig().TRACING_SAMPLE_PERCENT,
      offPerSecond: on.off,
      onPerSecond: on.on,
      everyOffPerSecond: every.off,
      everyPerSecond: every.every,
      passes,
      spansExported: receiver.spans,
      onSpansExported: receiver.spansOf.get(ON_SERVICE) ?? 0,
      exportPosts: receiver.posts,
    };
  } finally {
    for (const side of sides) {
      await side.http.close();
      await side.service.stop();
    }
    await receiver.close();
  }
}

export function tracingTargets(result: TracingBenchResult): BenchTarget[] {
  const ratio = result.onPerSecond / result.offPerSecond;
  return [
    {
      name: `grants/s with tracing on as shipped (exporting over OTLP/HTTP, ${result.defaultSamplePercent}% of new traces sampled) >= ${TARGET_RATIO} x off`,
      passed: ratio >= TARGET_RATIO && result.onSpansExported > 0,
      detail: `${ratio.toFixed(2)}x (${result.onPerSecond} vs ${result.offPerSecond}/s, the round of the median ratio of ${result.rounds}; every request traced: ${(result.everyPerSecond / result.everyOffPerSecond).toFixed(2)}x; ${result.onSpansExported} spans exported as shipped, ${result.spansExported} in all in ${result.exportPosts} posts)`,
    },
  ];
}

export function tracingTable(result: TracingBenchResult): string {
  const x = (rate: number, off: number) => `${(rate / off).toFixed(2)}x`;
  return [
    `| tracing (${result.users} users, ${result.claimers} at a time, ${result.rounds} rounds) | grants/s | off in the same round | ratio | every round |`,
    '|---|---|---|---|---|',
    `| off | | | | ${result.passes.map((p) => p.off).join(', ')} |`,
    `| on as shipped (TRACING_SAMPLE_PERCENT=${result.defaultSamplePercent}), round of the median ratio | ${result.onPerSecond} | ${result.offPerSecond} | ${x(result.onPerSecond, result.offPerSecond)} | ${result.passes.map((p) => p.on).join(', ')} |`,
    `| on, every request traced (TRACING_SAMPLE_PERCENT=100), round of the median ratio | ${result.everyPerSecond} | ${result.everyOffPerSecond} | ${x(result.everyPerSecond, result.everyOffPerSecond)} | ${result.passes.map((p) => p.every).join(', ')} |`,
    `| spans exported: as shipped / in all (${result.exportPosts} posts) | ${result.onSpansExported} / ${result.spansExported} | | | |`,
  ].join('\n');
}

async function main(): Promise<void> {
  const result = await measureTracing((line) => process.stderr.write(`bench: ${line}\n`));
  const targets = tracingTargets(result);
  if (process.argv.includes('--json')) process.stdout.write(JSON.stringify({ ...result, targets }, null, 2) + '\n');
  else
    process.stdout.write(
      `${tracingTable(result)}\n\n${targets.map((t) => `- ${t.passed ? 'PASS' : 'FAIL'} ${t.name}: ${t.detail}`).join('\n')}\n`,
    );
  process.exit(targets.every((t) => t.passed) ? 0 : 1);
}

if (require.main === module) {
  main().catch((error) => {
    process.stderr.write(`bench: ${(error as Error).stack}\n`);
    process.exit(2);
  });
}
