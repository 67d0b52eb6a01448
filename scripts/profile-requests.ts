import { mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { startSoldOutService, soldOutClaim } from '../bench/wrk-ratios';
import { runWrk } from '../bench/wrk';

/**
 * `npm run profile:requests [-- SECONDS]`: where the service's per-request CPU goes. For each of
 * GET /api/healthcheck/live and a sold-out claim it starts the service as deployed
 * (NODE_ENV=production, LOG_LEVEL=info, logs to /dev/null) under `node --cpu-prof`, drives it
 * with wrk, stops it, and prints the profile's self time by area (a package, a src/ folder,
 * Node's internals, garbage collection) and its top functions. The .cpuprofile files stay in
 * profiles/ (open them in Chrome DevTools or speedscope).
 */
interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

export interface CpuProfile {
  /** Microseconds of CLOCK_MONOTONIC, the clock of process.hrtime: this script can say when its wrk run began and ended. */
  startTime: number;
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const SECONDS = Number(process.argv[2] ?? 10) || 10;
const OUT = resolve(process.env.PROFILE_DIR ?? 'profiles');

/** The area a frame belongs to: a package under node_modules, a folder of this project, or Node. */
function areaOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1];
  const own = /\/dist\/(src\/[^/]+|bench|harness)\//.exec(url);
  if (own) return own[1];
  if (url.startsWith('node:')) return `node:${url.slice(5).split('/')[0]}`;
  return url;
}

/** Self time by area and by function, of the samples taken between `fromUs` and `toUs` (the measured wrk run only). */
export function summarise(profile: CpuProfile, fromUs: number, toUs: number, top = 25): string {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfMs = new Map<number, number>();
  let at = profile.startTime;
  profile.samples.forEach((id, i) => {
    at += profile.timeDeltas[i] ?? 0;
    if (at >= fromUs && at <= toUs) selfMs.set(id, (selfMs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
  });
  const total = [...selfMs.values()].reduce((a, b) => a + b, 0);
  const areas = new Map<string, number>();
  const functions = new Map<string, number>();
  for (const [id, ms] of selfMs) {
    const { callFrame } = byId.get(id)!;
    const area = areaOf(callFrame.url, callFrame.functionName);
    areas.set(area, (areas.get(area) ?? 0) + ms);
    const where = callFrame.url ? `${callFrame.url.replace(/^.*\/(node_modules|dist)\//, '$1/')}:${callFrame.lineNumber + 1}` : '';
    const name = `${callFrame.functionName || '(anonymous)'} ${where}`.trim();
    functions.set(name, (functions.get(name) ?? 0) + ms);
  }
  const share = (ms: number) => `${((100 * ms) / total).toFixed(1)}%`;
  const rows = (map: Map<string, number>) =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, ms]) => `| ${share(ms)} | ${name.replace(/\|/g, '\\|')} |`);
  return [
    `${Math.round(total)} ms sampled`,
    '',
    '| self time | area |',
    '|---|---|',
    ...rows(areas),
    '',
    '| self time | function |',
    '|---|---|',
    ...rows(functions),
  ].join('\n');
}

async function profileOne(name: string, drive: (url: string, token: string) => Promise<unknown>): Promise<void> {
  const dir = join(OUT, name);
  mkdirSync(dir, { recursive: true });
  const before = new Set(readdirSync(dir));
  const service = await startSoldOutService([`--cpu-prof`, `--cpu-prof-dir=${dir}`]);
  let result: unknown;
  const nowUs = () => Number(process.hrtime.bigint() / 1000n);
  let fromUs = 0;
  let toUs = 0;
  try {
    await drive(service.group.url, service.token); // warm-up, compiled code
    fromUs = nowUs();
    result = await drive(service.group.url, service.token);
    toUs = nowUs();
  } finally {
    await service.stop();
  }
  // The main thread's profile is the largest new one (hashing threads write small ones of their own).
  const written = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile') && !before.has(f));
  if (written.length === 0) throw new Error(`no profile was written in ${dir}`);
  const largest = written.map((f) => ({ f, size: readFileSync(join(dir, f)).length })).sort((a, b) => b.size - a.size)[0].f;
  process.stdout.write(`\n## ${name}: ${JSON.stringify(result)}\n\n${join(dir, largest)}\n\n`);
  process.stdout.write(summarise(JSON.parse(readFileSync(join(dir, largest), 'utf8')) as CpuProfile, fromUs, toUs) + '\n');
}

async function main(): Promise<void> {
  await profileOne('live', (url) => runWrk(`${url}/api/healthcheck/live`, {}, SECONDS));
  await profileOne('sold-out', (url, token) => runWrk(`${url}/api/coupons/claim`, soldOutClaim(token), SECONDS));
}

if (require.main === module) {
  main().catch((error) => {
    process.stderr.write(`profile: ${(error as Error).stack}\n`);
    process.exit(2);
  });
}
