import * as hdr from 'hdr-histogram-js';
import { writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '../src/config/config.loader';
import { runSale } from '../harness/claim-runner';
import { EventQueue, LOCAL_BROKER } from '../harness/event-queue';
import { HttpPool } from '../harness/http-pool';
import { ServiceGroup, startServiceGroup } from '../harness/self-hosted-service';
import { SaleUser, login, seedUsers } from '../harness/user-seeder';

/**
 * `npm run bench:events`: what events cost a sale. Two deployments run side by side, the same
 * size, on the same PostgreSQL and Redis: one with EVENTS_URL unset (no event written), one
 * relaying to the local RabbitMQ (to an exchange of its own, read by a queue bound with `#`).
 * Rounds alternate off, on, off, on...; each round sells a new coupon to every user (all
 * granted) with BENCH_EVENTS_IN_FLIGHT claims in flight. Rows: grants/s (median of the
 * rounds) off and on, their ratio (target >= 0.9), and the delay from each claim's 200 to the
 * arrival of its claim.granted at the queue, p50 and p99 over every claim of the "on" rounds.
 * Writes documentation/results/events-benchmark.md (and prints it). Sizes by environment:
 * BENCH_EVENTS_USERS (default 20000), BENCH_EVENTS_ROUNDS (3), BENCH_EVENTS_IN_FLIGHT (256),
 * BENCH_EVENTS_PROCESSES (API processes per deployment, default 1).
 */
const USERS = Number(process.env.BENCH_EVENTS_USERS ?? 20_000);
const ROUNDS = Number(process.env.BENCH_EVENTS_ROUNDS ?? 3);
const IN_FLIGHT = Number(process.env.BENCH_EVENTS_IN_FLIGHT ?? 256);
const PROCESSES = Number(process.env.BENCH_EVENTS_PROCESSES ?? 1);
const TARGET_RATIO = 0.9;

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const log = (line: string) => process.stderr.write(`${line}\n`);

interface Deployment {
  label: 'off' | 'on';
  group: ServiceGroup;
  http: HttpPool;
  admin: string;
  users: SaleUser[];
}

async function deploy(label: 'off' | 'on', env: Record<string, string>): Promise<Deployment> {
  const group = await startServiceGroup(PROCESSES, { CLAIM_RATE_LIMIT_PER_USER: '0', LOG_LEVEL: 'warn', ...env }, undefined, {
    stdout: 'discard',
  });
  const http = new HttpPool(group.urls, Math.ceil(IN_FLIGHT / PROCESSES) + 4, 30_000);
  const admin = await login(http, group.adminUser, group.adminPassword);
  const { users } = await seedUsers({
    http,
    databaseUrl: group.databaseUrl,
    prefix: `ev${label}_`,
    count: USERS,
    password: `bench-${label}`,
    concurrency: 64,
  });
  return { label, group, http, admin, users };
}

/** One sale of a fresh coupon to every user: grants/s, and each 200's wall-clock time by username. */
async function sale(d: Deployment, round: number): Promise<{ grantsPerSecond: number; coupon: string; answeredAt: Map<string, number> }> {
  const coupon = `EVENTS_${d.label.toUpperCase()}_${round}`;
  const created = await d.http.request('POST', '/api/coupons', { name: coupon, amount: USERS }, d.admin);
  if (created.status !== 201) throw new Error(`creating ${coupon}: ${created.status}`);
  const wallStart = Date.now();
  const run = await runSale({
    http: d.http,
    couponName: coupon,
    users: d.users,
    stock: USERS,
    concurrency: IN_FLIGHT,
    doubleDip: 0,
    seed: round,
    durationSeconds: 600,
    retries: 100,
    retryDelayMs: 50,
  });
  const granted = run.records.filter((r) => r.status === 200);
  if (granted.length !== USERS) throw new Error(`${coupon}: ${granted.length} of ${USERS} granted`);
  run.latency.destroy();
  const seconds = (Math.max(...granted.map((r) => r.answeredAtMs)) - Math.min(...granted.map((r) => r.answeredAtMs - r.latencyMs))) / 1000;
  return { grantsPerSecond: USERS / seconds, coupon, answeredAt: new Map(granted.map((r) => [r.username, wallStart + r.answeredAtMs])) };
}

async function main(): Promise<void> {
  const tail = await EventQueue.open('bench');
  const deployments: Deployment[] = [];
  try {
    deployments.push(await deploy('off', { EVENTS_URL: '' }));
    deployments.push(await deploy('on', { EVENTS_URL: LOCAL_BROKER.url, EVENTS_EXCHANGE: tail.exchange }));
    log(`${USERS} users per deployment, ${PROCESSES} API process(es) each, ${IN_FLIGHT} claims in flight, ${ROUNDS} rounds`);
    const rates: Record<'off' | 'on', number[]> = { off: [], on: [] };
    const delays = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000, numberOfSignificantValueDigits: 3 });
    let early = 0;
    for (let round = 1; round <= ROUNDS; round++) {
      for (const d of deployments) {
        const result = await sale(d, round);
        rates[d.label].push(result.grantsPerSecond);
        log(`round ${round}, events ${d.label}: ${result.grantsPerSecond.toFixed(0)} grants/s`);
        if (d.label === 'off') continue;
        const arrived = await tail.until(() => tail.of('claim.granted', result.coupon).length >= USERS, 120_000);
        if (!arrived)
          throw new Error(`${result.coupon}: ${tail.of('claim.granted', result.coupon).length} of ${USERS} events arrived within 120 s`);
        for (const event of tail.of('claim.granted', result.coupon)) {
          const delay = event.receivedAt - result.answeredAt.get(event.body.user_id!)!;
          // The event may beat the 200 to this process (both leave after the same commit).
          if (delay < 1) early++;
          delays.recordValue(Math.max(1, delay));
        }
        tail.events.length = 0;
      }
    }
    const off = median(rates.off);
    const on = median(rates.on);
    const ratio = on / off;
    const table = [
      '| row | value |',
      '|---|---|',
      `| grants/s, events off (median of ${ROUNDS}) | ${off.toFixed(0)} |`,
      `| grants/s, events on, relaying to the local RabbitMQ (median of ${ROUNDS}) | ${on.toFixed(0)} |`,
      `| on / off (target >= ${TARGET_RATIO}) | ${ratio.toFixed(2)} ${ratio >= TARGET_RATIO ? '(met)' : '(**missed**)'} |`,
      `| claim 200 -> claim.granted at the broker, p50 | ${delays.getValueAtPercentile(50)} ms |`,
      `| claim 200 -> claim.granted at the broker, p99 | ${delays.getValueAtPercentile(99)} ms |`,
    ].join('\n');
    delays.destroy();
    const page = [
      '# Events benchmark',
      '',
      'Written by `npm run bench:events` (bench/events.ts); do not edit by hand.',
      '',
      `Measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC on ${cpus().length} cores, load average ` +
        `${loadavg()
          .map((l) => l.toFixed(1))
          .join(' / ')} at the end. Two deployments of ${PROCESSES} API process(es) each ` +
        `on the same PostgreSQL and Redis, one with \`EVENTS_URL\` unset, one relaying to the local RabbitMQ; rounds alternate ` +
        `off and on, each selling a new coupon to all ${USERS} users (every claim granted) with ${IN_FLIGHT} claims in flight. ` +
        `Delays are from the client receiving a claim's 200 to the client of a queue bound with \`#\` receiving its ` +
        `claim.granted (${early} of ${USERS * ROUNDS} arrived first; counted as 1 ms).`,
      '',
      table,
      '',
    ].join('\n');
    writeFileSync(join(projectRoot(), 'documentation', 'results', 'events-benchmark.md'), page);
    process.stdout.write(`${table}\n`);
    log('wrote documentation/results/events-benchmark.md');
  } finally {
    for (const d of deployments) {
      await d.http.close();
      await d.group.stop();
    }
    await tail.delete();
  }
}

main().catch((error: Error) => {
  process.stderr.write(`${error.stack ?? error.message}\n`);
  process.exit(1);
});
