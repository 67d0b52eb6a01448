import { ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { bcryptConcurrency, loadConfig, projectRoot } from '../src/config/config.loader';
import { HttpAnswer, HttpPool } from '../harness/http-pool';
import { startSelfHostedService } from '../harness/self-hosted-service';
import { SaleUser, login, seedUsers } from '../harness/user-seeder';
import type { BenchTarget } from './bench-result';

/**
 * The flood rows of `npm run bench`: claims answered per second on a sold-out coupon (64 users
 * claiming in a loop) while nobody else calls, and while one client floods registration or
 * wrong-password logins, 64 requests at a time, in its own process (bench/flood-client.ts).
 * The service runs as shipped (BCRYPT_COST 10, BCRYPT_MAX_CONCURRENT 0 = the default bound)
 * except that the per-address registration and login limits are off: the flood must reach the
 * password hashing, as one spread over many addresses would.
 */
export type FloodKind = 'registration' | 'login';

/** 'off': the per-address limits turned off, so the flood reaches the hashing; 'default': the shipped limits, the flood ignoring Retry-After. */
export type FloodLimits = 'off' | 'default';

export interface FloodRow {
  flood: FloodKind;
  limits?: FloodLimits;
  quietPerSecond: number;
  floodPerSecond: number;
  /** The flooding client's answers during the pass, by status and code. */
  floodAnswers: Record<string, number>;
  /** Every slice pair's quiet/flood figures, for the spread. */
  turns: { quiet: number; flood: number }[];
}

export interface FloodResult {
  bcryptCost: number;
  bcryptConcurrent: number;
  claimers: number;
  floodConcurrency: number;
  secondsPerPass: number;
  slices: number;
  rows: FloodRow[];
}

const CLAIMERS = 64;
const FLOOD_CONCURRENCY = 64;
/** Seconds of each quiet and each flooded slice, and how many pairs of them per flood kind. */
const SLICE_SECONDS = Math.max(0.5, Number(process.env.BENCH_FLOOD_SLICE_SECONDS ?? 1.5) || 1.5);
const SLICES = Math.max(1, Number(process.env.BENCH_FLOOD_SLICES ?? 8) || 8);
/** After resuming the flood, before measuring: its 64 requests are back in flight. */
const RAMP_MS = 300;
/** After pausing the flood, before measuring quiet: what it started has finished. */
const DRAIN_MS = 800;
const COUPON = 'FLOOD_SOLD_OUT';
const BCRYPT_COST = '10';
/** The hashing bound under test: '0' (the default) unless BENCH_FLOOD_BCRYPT_MAX_CONCURRENT asks for another, e.g. 1024 to see the service without it. */
const BCRYPT_MAX_CONCURRENT = process.env.BENCH_FLOOD_BCRYPT_MAX_CONCURRENT ?? '0';

const round = (n: number) => Math.round(n * 10) / 10;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const isCheapAnswer = (answer: HttpAnswer) => answer.body?.code === 'SOLD_OUT' || answer.body?.code === 'ALREADY_CLAIMED';

/** Every user claims the sold-out coupon again and again for `seconds`; refusals answered per second. */
async function claimLoop(http: HttpPool, users: SaleUser[], seconds: number): Promise<number> {
  let answered = 0;
  let other = 0;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  await Promise.all(
    users.map(async (user) => {
      while (performance.now() < deadline) {
        const answer = await http.request('POST', '/api/coupons/claim', { coupon_name: COUPON }, user.token);
        if (isCheapAnswer(answer)) answered++;
        else other++;
      }
    }),
  );
  if (other > 0) throw new Error(`${other} claims of the sold-out coupon got something other than SOLD_OUT/ALREADY_CLAIMED`);
  return answered / ((performance.now() - started) / 1000);
}

/** How the flooding client treats Retry-After: see bench/flood-client.ts. */
const FLOOD_RETRY = process.env.BENCH_FLOOD_RETRY === 'ignore-retry-after' ? 'ignore-retry-after' : 'honour-retry-after';

function startFlood(
  url: string,
  kind: FloodKind,
  retry: string = FLOOD_RETRY,
): { child: ChildProcess; stop: () => Promise<Record<string, number>> } {
  const script = join(projectRoot(), 'dist', 'bench', 'flood-client.js');
  const child = spawn(process.execPath, [script, url, kind, String(FLOOD_CONCURRENCY), retry], { stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  child.stdout.on('data', (chunk) => (output += String(chunk)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    stop: async () => {
      child.kill('SIGTERM');
      child.kill('SIGCONT'); // a paused process only acts on SIGTERM once resumed
      await exited;
      return JSON.parse(output.trim().split('\n').pop() || '{}') as Record<string, number>;
    },
  };
}

/**
 * With `limits` 'default' the service keeps its shipped per-address limits (300 registrations
 * an hour, 300 logins a minute) and the flood ignores Retry-After, as an attacker's would: past
 * the limit every request it sends is a 429.
 */
export async function measureFloodRows(log: (line: string) => void, limits: FloodLimits = 'off'): Promise<FloodResult> {
  const defaults = loadConfig({}, {});
  const service = await startSelfHostedService({
    BCRYPT_COST,
    BCRYPT_MAX_CONCURRENT,
    REGISTRATION_RATE_LIMIT_PER_ADDRESS: limits === 'off' ? '0' : String(defaults.REGISTRATION_RATE_LIMIT_PER_ADDRESS),
    LOGIN_RATE_LIMIT_PER_ADDRESS: limits === 'off' ? '0' : String(defaults.LOGIN_RATE_LIMIT_PER_ADDRESS),
  });
  const http = new HttpPool([service.url], CLAIMERS, 30_000);
  const floods: { stop: () => Promise<Record<string, number>> }[] = [];
  try {
    const admin = await login(http, service.adminUser, service.adminPassword);
    // One login at a time: the service's hashing bound is on, and refused logins are not the point here.
    const { users } = await seedUsers({
      http,
      databaseUrl: service.databaseUrl,
      prefix: 'flood_',
      count: CLAIMERS,
      password: 'bench-password-1',
      concurrency: 1,
    });
    await http.request('POST', '/api/coupons', { name: COUPON, amount: 1 }, admin);
    const granted = await http.request('POST', '/api/coupons/claim', { coupon_name: COUPON }, users[0].token);
    if (granted.status !== 200)
      throw new Error(`the flood rows' coupon was not granted: ${granted.status} ${JSON.stringify(granted.body)}`);
    await claimLoop(http, users, 2); // warm-up
    const rows: FloodRow[] = [];
    for (const kind of ['registration', 'login'] as FloodKind[]) {
      // One flooding process per kind, paused (SIGSTOP) and resumed (SIGCONT) between short
      // slices: quiet and flooded slices alternate within seconds, so this shared machine's
      // swings hit both sides alike; the row sums all slices of each side.
      const flood = startFlood(service.url, kind, limits === 'default' ? 'ignore-retry-after' : FLOOD_RETRY);
      floods.push(flood);
      await sleep(1500); // the flood process starts and reaches its 64 in flight
      // One flooded slice, not counted: the flood's first connections and code paths warm up, as
      // the quiet side's did in the warm-up before the rows.
      await claimLoop(http, users, SLICE_SECONDS);
      const slices: { quiet: number; flood: number }[] = [];
      for (let slice = 0; slice < SLICES; slice++) {
        flood.child.kill('SIGCONT');
        await sleep(RAMP_MS);
        const flooded = await claimLoop(http, users, SLICE_SECONDS);
        flood.child.kill('SIGSTOP');
        await sleep(DRAIN_MS); // hashes already admitted finish
        const quiet = await claimLoop(http, users, SLICE_SECONDS);
        slices.push({ quiet: round(quiet), flood: round(flooded) });
      }
      const answers = await flood.stop();
      floods.pop();
      const mean = (side: 'quiet' | 'flood') => round(slices.reduce((sum, s) => sum + s[side], 0) / slices.length);
      log(
        `flood ${kind} (limits ${limits}): slices (quiet/flooded) ${slices.map((x) => `${x.quiet}/${x.flood}`).join(', ')}; flood answers ${JSON.stringify(answers)}`,
      );
      rows.push({
        flood: kind,
        limits,
        quietPerSecond: mean('quiet'),
        floodPerSecond: mean('flood'),
        floodAnswers: answers,
        turns: slices,
      });
      await sleep(DRAIN_MS);
    }
    return {
      bcryptCost: Number(BCRYPT_COST),
      bcryptConcurrent: bcryptConcurrency(loadConfig({ BCRYPT_MAX_CONCURRENT: Number(BCRYPT_MAX_CONCURRENT) }, {})),
      claimers: CLAIMERS,
      floodConcurrency: FLOOD_CONCURRENCY,
      secondsPerPass: SLICE_SECONDS,
      slices: SLICES,
      rows,
    };
  } finally {
    await Promise.all(floods.map((flood) => flood.stop()));
    await http.close();
    await service.stop();
  }
}

export function floodTargets(result: FloodResult): BenchTarget[] {
  return result.rows.map((row) => ({
    name: `claims answered during a ${row.flood} flood${row.limits === 'default' ? ' at the default limits' : ''} >= 0.7 x quiet`,
    passed: row.floodPerSecond >= 0.7 * row.quietPerSecond,
    detail: `${(row.floodPerSecond / row.quietPerSecond).toFixed(2)}x (${row.floodPerSecond} vs ${row.quietPerSecond}/s)`,
  }));
}

export function floodTable(result: FloodResult): string {
  const lines = [
    '| flood (one client, 64 in flight) | limits | claims answered/s quiet | during the flood | ratio | flooding client got | every slice pair (quiet/flood) |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const row of result.rows) {
    const answers = Object.entries(row.floodAnswers)
      .map(([k, n]) => `${n} x ${k}`)
      .join(', ');
    const turns = row.turns.map((t) => `${t.quiet}/${t.flood}`).join(', ');
    lines.push(
      `| ${row.flood} | ${row.limits ?? 'off'} | ${row.quietPerSecond} | ${row.floodPerSecond} | ${(row.floodPerSecond / row.quietPerSecond).toFixed(2)}x | ${answers} | ${turns} |`,
    );
  }
  return lines.join('\n');
}
