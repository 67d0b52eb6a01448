import { execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { soldOutClaim, startSoldOutService } from '../bench/wrk-ratios';
import { median, requireWrk, runWrk } from '../bench/wrk';

/**
 * `npm run request-cost [-- LABEL]`: the service's own CPU time per request (user + system,
 * /proc/<pid>/stat, us) under wrk, for GET /api/healthcheck/live and a sold-out claim, as
 * deployed (NODE_ENV=production, LOG_LEVEL=info, logs to /dev/null). CPU per request, unlike
 * requests per second, barely moves when other work shares the cores, so it is what judges a
 * change to the request path on a busy machine. Each run appends a row (label, commit, medians)
 * to profiles/request-cost.jsonl and prints every row recorded there: a before/after table.
 */
interface CostRow {
  label: string;
  commit: string;
  at: string;
  rounds: number;
  seconds: number;
  liveUs: number;
  soldOutUs: number;
  liveRuns: number[];
  soldOutRuns: number[];
}

const LABEL = process.argv[2] ?? 'unlabelled';
const ROUNDS = Math.max(1, Number(process.env.REQUEST_COST_ROUNDS ?? 5) || 5);
const SECONDS = Math.max(1, Number(process.env.REQUEST_COST_SECONDS ?? 3) || 3);
const OUT = resolve(process.env.REQUEST_COST_FILE ?? 'profiles/request-cost.jsonl');

function commitOf(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8' }).trim();
    return dirty ? `${head}+dirty` : head;
  } catch {
    return 'unknown';
  }
}

function table(rows: CostRow[]): string {
  const first = rows[0];
  const pct = (now: number, before: number) => `${now <= before ? '' : '+'}${Math.round((100 * (now - before)) / before)}%`;
  return [
    `server CPU us per request under wrk (median of rounds; each round ${first?.seconds ?? SECONDS} s per route)`,
    '',
    '| label | commit | live us | vs first | sold-out us | vs first | live runs | sold-out runs |',
    '|---|---|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.label} | ${r.commit} | ${r.liveUs} | ${pct(r.liveUs, first.liveUs)} | ${r.soldOutUs} | ${pct(r.soldOutUs, first.soldOutUs)} | ` +
        `${r.liveRuns.join(', ')} | ${r.soldOutRuns.join(', ')} |`,
    ),
  ].join('\n');
}

async function main(): Promise<void> {
  if (process.argv[2] === '--table') {
    process.stdout.write(`${table(readRows())}\n`);
    return;
  }
  requireWrk();
  const service = await startSoldOutService();
  const pid = service.group.processes[0].pid;
  const live = service.group.url + '/api/healthcheck/live';
  const claim = service.group.url + '/api/coupons/claim';
  const liveRuns: number[] = [];
  const soldOutRuns: number[] = [];
  try {
    // Warm-up: both paths compiled before anything is measured.
    await runWrk(live, {}, 2, pid);
    await runWrk(claim, soldOutClaim(service.token), 2, pid);
    for (let r = 0; r < ROUNDS; r++) {
      // Alternating order, so a swing of the machine's load hits both routes alike.
      const order = r % 2 === 0 ? ['live', 'soldOut'] : ['soldOut', 'live'];
      for (const side of order) {
        const result =
          side === 'live' ? await runWrk(live, {}, SECONDS, pid) : await runWrk(claim, soldOutClaim(service.token), SECONDS, pid);
        if (result.errors > 0) process.stderr.write(`request-cost: ${side} had ${result.errors} socket errors\n`);
        (side === 'live' ? liveRuns : soldOutRuns).push(result.cpuUsPerRequest ?? 0);
        process.stderr.write(
          `request-cost: round ${r + 1} ${side} ${result.requestsPerSecond} req/s, ${result.cpuUsPerRequest} us/request\n`,
        );
      }
    }
  } finally {
    await service.stop();
  }
  const row: CostRow = {
    label: LABEL,
    commit: commitOf(),
    at: new Date().toISOString(),
    rounds: ROUNDS,
    seconds: SECONDS,
    liveUs: median(liveRuns),
    soldOutUs: median(soldOutRuns),
    liveRuns,
    soldOutRuns,
  };
  mkdirSync(dirname(OUT), { recursive: true });
  appendFileSync(OUT, JSON.stringify(row) + '\n');
  process.stdout.write(`${table(readRows())}\n`);
}

function readRows(): CostRow[] {
  if (!existsSync(OUT)) return [];
  return readFileSync(OUT, 'utf8')
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => JSON.parse(line) as CostRow);
}

main()
  .then(() => process.exit(0))
  .catch((error) => {
    process.stderr.write(`request-cost: ${(error as Error).stack}\n`);
    process.exit(2);
  });
