import { ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { projectRoot } from '../src/config/config.loader';
import { HttpPool } from '../harness/http-pool';
import { ServiceGroup, startServiceGroup } from '../harness/self-hosted-service';
import { login, seedUsers } from '../harness/user-seeder';
import type { BenchTarget } from './bench-result';
import { startBareApp } from './crowds';
import { WRK_CONNECTIONS, WRK_SECONDS, WRK_THREADS, median, runWrk } from './wrk';

/**
 * The wrk rows: what users' own load tools see. Four sides under wrk, one after the other in
 * each round, the order changing between rounds so this machine's swings hit every side alike:
 * a bare NestJS + Fastify app's GET /api/healthcheck/live, the service's (as deployed:
 * NODE_ENV=production, LOG_LEVEL=info, its log lines to /dev/null as to a log shipper), a raw
 * Node `http` hello server, and the service's sold-out claim answers (one non-holder claiming
 * a sold-out coupon). The two sides of a ratio run back to back; each ratio is the median of
 * the rounds' ratios.
 */
export interface WrkRound {
  bareLive: number;
  serviceLive: number;
  rawHello: number;
  serviceSoldOut: number;
  errors: number;
  /**
   * Each side's server CPU time per request (us, /proc/<pid>/stat): steadier than req/s on a
   * shared machine, since other work on the cores slows a side's rate but not its CPU per request.
   */
  cpuUs: Record<'bareLive' | 'serviceLive' | 'rawHello' | 'serviceSoldOut', number>;
}

type Side = 'bareLive' | 'serviceLive' | 'rawHello' | 'serviceSoldOut';

export interface WrkRatiosResult {
  /** wrk's sold-out claims sent in the measured rounds, and how many the service counted as SOLD_OUT (coupon_claims_total). */
  soldOutSent: number;
  soldOutCounted: number;
  threads: number;
  connections: number;
  seconds: number;
  rounds: WrkRound[];
  liveRatio: number;
  soldOutRatio: number;
}

/**
 * Nine rounds: on this shared machine one side of a round can run at half speed while the other
 * does not (rounds of one run went 0.47x to 0.86x on the liveness row), and the median of five
 * such ratios went from 0.66x to 0.71x between runs of the same code; the median of nine moves less.
 */
const ROUNDS = Math.max(1, Number(process.env.BENCH_WRK_ROUNDS ?? 9) || 9);
const COUPON = 'WRK_SOLD_OUT';
const round2 = (n: number) => Math.round(n * 100) / 100;

/** The service's SOLD_OUT claim count from /metrics. */
async function soldOutCounted(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const match = /^coupon_claims_total\{outcome="SOLD_OUT"\} (\d+)/m.exec(text);
  return match ? Number(match[1]) : 0;
}

/** Starts bench/raw-hello.ts on a free loopback port. */
export async function startRawHello(): Promise<{ url: string; pid: number; stop: () => void }> {
  const child: ChildProcess = spawn(process.execPath, [join(projectRoot(), 'dist', 'bench', 'raw-hello.js'), '0'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.on('data', (chunk) => {
      const match = /listening (\d+)/.exec(String(chunk));
      if (match) resolve(Number(match[1]));
    });
    child.on('exit', (code) => reject(new Error(`raw hello exited ${code}`)));
  });
  return { url: `http://127.0.0.1:${port}`, pid: child.pid!, stop: () => child.kill('SIGTERM') };
}

/** The service as deployed, with a sold-out coupon and the token of a user who does not hold it. */
export async function startSoldOutService(
  nodeArgs: string[] = [],
): Promise<{ group: ServiceGroup; token: string; stop: () => Promise<void> }> {
  const group = await startServiceGroup(1, { LOG_LEVEL: 'info', NODE_ENV: 'production' }, undefined, { stdout: 'discard', nodeArgs });
  const http = new HttpPool([group.url], 4, 30_000);
  try {
    const admin = await login(http, group.adminUser, group.adminPassword);
    const { users } = await seedUsers({
      http,
      databaseUrl: group.databaseUrl,
      prefix: 'wrk_',
      count: 2,
      password: 'bench-password-1',
      concurrency: 1,
    });
    await http.request('POST', '/api/coupons', { name: COUPON, amount: 1 }, admin);
    const granted = await http.request('POST', '/api/coupons/claim', { coupon_name: COUPON }, users[0].token);
    if (granted.status !== 200) throw new Error(`the wrk coupon was not granted: ${granted.status}`);
    // The first refusal is settled by a batch, which remembers the sell-out; later ones answer from memory.
    const refused = await http.request('POST', '/api/coupons/claim', { coupon_name: COUPON }, users[1].token);
    if (refused.body?.code !== 'SOLD_OUT') throw new Error(`expected SOLD_OUT, got ${refused.status} ${JSON.stringify(refused.body)}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
    return { group, token: users[1].token, stop: () => group.stop() };
  } finally {
    await http.close();
  }
}

export const soldOutClaim = (token: string) => ({ method: 'POST' as const, body: { coupon_name: COUPON }, token });

export async function measureWrkRatios(log: (line: string) => void): Promise<WrkRatiosResult> {
  const bare = await startBareApp();
  const raw = await startRawHello();
  const service = await startSoldOutService();
  const live = '/api/healthcheck/live';
  try {
    const servicePid = service.group.processes[0].pid;
    const sides: [Side, (seconds?: number) => ReturnType<typeof runWrk>][] = [
      ['bareLive', (seconds) => runWrk(bare.url + live, {}, seconds, bare.pid)],
      ['serviceLive', (seconds) => runWrk(service.group.url + live, {}, seconds, servicePid)],
      ['rawHello', (seconds) => runWrk(raw.url + '/', {}, seconds, raw.pid)],
      ['serviceSoldOut', (seconds) => runWrk(service.group.url + '/api/coupons/claim', soldOutClaim(service.token), seconds, servicePid)],
    ];
    // Warm-up: every side's code paths compiled before the first measured round.
    for (const [, run] of sides) await run(2);
    const rounds: WrkRound[] = [];
    const countedBefore = await soldOutCounted(service.group.url);
    let soldOutSent = 0;
    // Each ratio's two sides run back to back (bare then service live, raw hello then sold-out),
    // which of the two goes first alternating between rounds and which pair goes first too: a
    // swing of this shared machine's load then hits both sides of a ratio alike.
    const pairs: [number, number][] = [
      [0, 1],
      [2, 3],
    ];
    for (let r = 0; r < ROUNDS; r++) {
      const measured: Partial<WrkRound> = { errors: 0, cpuUs: {} as WrkRound['cpuUs'] };
      const order = (r % 2 === 0 ? pairs : [...pairs].reverse()).flatMap(([a, b]) => (r % 4 < 2 ? [a, b] : [b, a]));
      for (const index of order) {
        const [name, run] = sides[index];
        const result = await run();
        measured[name] = result.requestsPerSecond;
        measured.cpuUs![name] = result.cpuUsPerRequest ?? 0;
        if (name === 'serviceSoldOut') soldOutSent += result.requests;
        measured.errors! += result.errors;
      }
      const done = measured as WrkRound;
      rounds.push(done);
      log(
        `wrk round ${r + 1}: bare live ${done.bareLive}, service live ${done.serviceLive} (${round2(done.serviceLive / done.bareLive)}x), ` +
          `raw hello ${done.rawHello}, sold-out ${done.serviceSoldOut} (${round2(done.serviceSoldOut / done.rawHello)}x) req/s; CPU us/request ${JSON.stringify(done.cpuUs)}`,
      );
    }
    return {
      soldOutSent,
      soldOutCounted: (await soldOutCounted(service.group.url)) - countedBefore,
      threads: WRK_THREADS,
      connections: WRK_CONNECTIONS,
      seconds: WRK_SECONDS,
      rounds,
      liveRatio: round2(median(rounds.map((x) => x.serviceLive / x.bareLive))),
      soldOutRatio: round2(median(rounds.map((x) => x.serviceSoldOut / x.rawHello))),
    };
  } finally {
    bare.stop();
    raw.stop();
    await service.stop();
  }
}

export function wrkTargets(result: WrkRatiosResult): BenchTarget[] {
  return [
    {
      name: 'wrk: service GET /api/healthcheck/live >= 0.7 x bare NestJS + Fastify (LOG_LEVEL=info)',
      passed: result.liveRatio >= 0.7,
      detail: `${result.liveRatio}x (median of ${result.rounds.length} rounds)`,
    },
    {
      name: 'wrk: sold-out claim answers >= 0.3 x raw Node http hello, every one a SOLD_OUT',
      // wrk counts the requests it finished; ones cut off at its end may still be counted by the service.
      passed: result.soldOutRatio >= 0.3 && result.soldOutCounted >= result.soldOutSent,
      detail: `${result.soldOutRatio}x (median of ${result.rounds.length} rounds); ${result.soldOutCounted} SOLD_OUT counted for ${result.soldOutSent} requests`,
    },
  ];
}

export function wrkTable(result: WrkRatiosResult): string {
  const lines = [
    `wrk -t${result.threads} -c${result.connections} -d${result.seconds}s, the two sides of a ratio back to back, order alternating (req/s)`,
    '',
    '| round | bare NestJS live | service live | ratio | raw Node hello | service sold-out claim | ratio | CPU us/request: bare, service live, raw, sold-out |',
    '|---|---|---|---|---|---|---|---|',
  ];
  result.rounds.forEach((x, i) =>
    lines.push(
      `| ${i + 1} | ${x.bareLive} | ${x.serviceLive} | ${round2(x.serviceLive / x.bareLive)}x | ${x.rawHello} | ${x.serviceSoldOut} | ${round2(x.serviceSoldOut / x.rawHello)}x | ` +
        `${x.cpuUs.bareLive}, ${x.cpuUs.serviceLive}, ${x.cpuUs.rawHello}, ${x.cpuUs.serviceSoldOut} |`,
    ),
  );
  const cpuRatio = (a: Side, b: Side) => round2(median(result.rounds.map((x) => x.cpuUs[a] / x.cpuUs[b])));
  lines.push(
    `| median | | | **${result.liveRatio}x** | | | **${result.soldOutRatio}x** | CPU-per-request ratios: live ${cpuRatio('bareLive', 'serviceLive')}x, sold-out ${cpuRatio('rawHello', 'serviceSoldOut')}x |`,
  );
  return lines.join('\n');
}
