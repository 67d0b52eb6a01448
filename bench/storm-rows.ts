import type { BenchTarget } from './bench-result';
import { measureCrowds } from './crowds';
import { crowdsTables } from './crowds-result';
import { floodTable, floodTargets, measureFloodRows } from './flood-rows';
import { loginStormTable, loginStormTargets, measureLoginStorm } from './login-storm';
import { manyCouponsMemoryTable, manyCouponsMemoryTargets, measureManyCouponsMemory } from './many-coupons-memory';
import { requireWrk } from './wrk';
import { measureWrkRatios, wrkTable, wrkTargets } from './wrk-ratios';

/** The sale-start rows: which of them (storm, wrk, floods, memory, sweep) and their results, tables and targets. */
export interface StormRowsResult {
  results: Record<string, unknown>;
  /** One markdown section per row measured. */
  markdown: string;
  targets: BenchTarget[];
}

export const STORM_ROWS = ['storm', 'wrk', 'floods', 'memory', 'sweep'] as const;

/**
 * Measures the chosen rows one after the other, each with its own service: the login storm,
 * the wrk ratios, the flood rows at the default limits, the many-coupons memory row and the
 * concurrency sweep (bench/crowds.ts).
 */
export async function measureStormRows(log: (line: string) => void, rows: ReadonlySet<string>): Promise<StormRowsResult> {
  if (rows.has('wrk')) requireWrk();
  const results: Record<string, unknown> = {};
  const sections: string[] = [];
  const targets: BenchTarget[] = [];
  const section = (title: string, table: string, rowTargets: BenchTarget[]) => {
    targets.push(...rowTargets);
    sections.push(
      `### ${title}\n\n${table}\n\n${rowTargets.map((t) => `- ${t.passed ? 'PASS' : 'FAIL'} ${t.name}: ${t.detail}`).join('\n')}`,
    );
  };
  if (rows.has('storm')) {
    const storm = (results.loginStorm = await measureLoginStorm(log));
    section('Login storm', loginStormTable(storm), loginStormTargets(storm));
  }
  if (rows.has('wrk')) {
    const wrk = (results.wrk = await measureWrkRatios(log));
    section('Per-request tax under wrk', wrkTable(wrk), wrkTargets(wrk));
  }
  if (rows.has('floods')) {
    const floods = (results.floodsAtDefaultLimits = await measureFloodRows(log, 'default'));
    section('Floods at the default limits (the flood ignores Retry-After)', floodTable(floods), floodTargets(floods));
  }
  if (rows.has('memory')) {
    const memory = (results.manyCouponsMemory = await measureManyCouponsMemory(log));
    section('Many coupons: memory', manyCouponsMemoryTable(memory), manyCouponsMemoryTargets(memory));
  }
  if (rows.has('sweep')) {
    const crowds = (results.sweep = await measureCrowds(log, new Set(['sweep'])));
    section('Concurrency sweep', crowdsTables(crowds), crowds.targets);
  }
  return { results, markdown: sections.join('\n\n'), targets };
}
