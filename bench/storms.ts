import type { BenchTarget } from './bench-result';
import { measureCrowds } from './crowds';
import { crowdsTables } from './crowds-result';
import { floodTable, floodTargets, measureFloodRows } from './flood-rows';
import { loginStormTable, loginStormTargets, measureLoginStorm } from './login-storm';
import { manyCouponsMemoryTable, manyCouponsMemoryTargets, measureManyCouponsMemory } from './many-coupons-memory';
import { measureWrkRatios, wrkTable, wrkTargets } from './wrk-ratios';

/**
 * `npm run bench:storms`: the sale-start rows alone, each printed as a table with its targets:
 * the login storm, the wrk ratios, the flood rows at the default limits, the many-coupons
 * memory row and the concurrency sweep (bench/crowds.ts). BENCH_STORM_ROWS picks some
 * (comma-separated: storm, wrk, floods, memory, sweep; all when unset). Exits 1 when a target fails.
 */
const ROWS = new Set((process.env.BENCH_STORM_ROWS ?? 'storm,wrk,floods,memory,sweep').split(',').map((row) => row.trim()));
const log = (line: string) => process.stderr.write(`bench: ${line}\n`);
const targetLines = (targets: BenchTarget[]) => targets.map((t) => `- ${t.passed ? 'PASS' : 'FAIL'} ${t.name}: ${t.detail}`).join('\n');

async function main(): Promise<void> {
  const targets: BenchTarget[] = [];
  const section = (title: string, table: string, rowTargets: BenchTarget[]) => {
    targets.push(...rowTargets);
    process.stdout.write(`## ${title}\n\n${table}\n\n${targetLines(rowTargets)}\n\n`);
  };
  if (ROWS.has('storm')) {
    const storm = await measureLoginStorm(log);
    section('Login storm', loginStormTable(storm), loginStormTargets(storm));
  }
  if (ROWS.has('wrk')) {
    const wrk = await measureWrkRatios(log);
    section('Per-request tax under wrk', wrkTable(wrk), wrkTargets(wrk));
  }
  if (ROWS.has('floods')) {
    const floods = await measureFloodRows(log, 'default');
    section('Floods at the default limits', floodTable(floods), floodTargets(floods));
  }
  if (ROWS.has('memory')) {
    const memory = await measureManyCouponsMemory(log);
    section('Many coupons: memory', manyCouponsMemoryTable(memory), manyCouponsMemoryTargets(memory));
  }
  if (ROWS.has('sweep')) {
    const crowds = await measureCrowds(log, new Set(['sweep']));
    section('Concurrency sweep', crowdsTables(crowds), crowds.targets);
  }
  process.exit(targets.every((t) => t.passed) ? 0 : 1);
}

main().catch((error) => {
  process.stderr.write(`bench: ${(error as Error).stack}\n`);
  process.exit(2);
});
