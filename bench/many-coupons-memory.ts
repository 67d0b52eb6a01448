import { readFileSync } from 'node:fs';
import { loadConfig } from '../src/config/config.loader';
import { HttpPool, runBounded } from '../harness/http-pool';
import { startServiceGroup } from '../harness/self-hosted-service';
import { login, seedUsers } from '../harness/user-seeder';
import type { BenchTarget } from './bench-result';

/**
 * The many-coupons memory row: COUPONS coupons of one unit each are sold out (one grant each),
 * then every one is claimed again by someone else (SOLD_OUT), so every process remembers as
 * many sold-out coupons as it may. The API process's resident memory is read before the sale
 * (after a warm-up) and after; the growth must stay under RSS_GROWTH_BOUND_MB. The sold-out
 * memory keeps SOLD_OUT_MEMORY_MAX_COUPONS coupons at most (the default), each with its holders.
 */
export interface ManyCouponsMemoryResult {
  coupons: number;
  maxRemembered: number;
  rssBeforeMb: number;
  rssAfterMb: number;
  rssPeakMb: number;
  growthMb: number;
  boundMb: number;
  wrongAnswers: number;
}

const COUPONS = Number(process.env.BENCH_MEMORY_COUPONS ?? 10_000) || 10_000;
const CLAIMERS = 64;
/**
 * The stated bound: 10,000 sold-out coupons may grow the process by at most this much. The
 * memory itself keeps at most 1,000 coupons of one holder each (well under 1 MB); the rest is
 * the heap a sale's work leaves (V8 grows its heap under load and returns it lazily).
 */
export const RSS_GROWTH_BOUND_MB = 64;

function residentKb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const match = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) : 0;
}

export async function measureManyCouponsMemory(log: (line: string) => void): Promise<ManyCouponsMemoryResult> {
  const group = await startServiceGroup(1, { CLAIM_RATE_LIMIT_PER_USER: '0' }, undefined, { stdout: 'discard' });
  const pid = group.processes[0].pid;
  const http = new HttpPool([group.url], CLAIMERS, 60_000);
  try {
    const admin = await login(http, group.adminUser, group.adminPassword);
    const { users } = await seedUsers({
      http,
      databaseUrl: group.databaseUrl,
      prefix: 'mem_',
      count: CLAIMERS,
      password: 'bench-password-1',
      concurrency: 4,
    });
    const names = Array.from({ length: COUPONS }, (_, i) => `MEM_${i}`);
    let wrong = 0;
    const claimAll = async (expected: string, userOf: (i: number) => number) =>
      runBounded(names, CLAIMERS, async (name, i) => {
        const answer = await http.request('POST', '/api/coupons/claim', { coupon_name: name }, users[userOf(i)].token);
        const code = answer.status === 200 ? 'GRANTED' : answer.body?.code;
        if (code !== expected) wrong++;
      });
    // Warm-up on coupons of their own, so the "before" reading is of a process that has served claims.
    const warm = names.slice(0, 200).map((name) => `WARM_${name}`);
    await runBounded(warm, CLAIMERS, async (name) => void (await http.request('POST', '/api/coupons', { name, amount: 1 }, admin)));
    await runBounded(
      warm,
      CLAIMERS,
      async (name, i) => void (await http.request('POST', '/api/coupons/claim', { coupon_name: name }, users[i % CLAIMERS].token)),
    );
    await runBounded(names, CLAIMERS, async (name) => {
      const created = await http.request('POST', '/api/coupons', { name, amount: 1 }, admin);
      if (created.status !== 201) throw new Error(`coupon ${name}: ${created.status} ${JSON.stringify(created.body)}`);
    });
    const before = residentKb(pid, 'VmRSS');
    await claimAll('GRANTED', (i) => i % CLAIMERS);
    await claimAll('SOLD_OUT', (i) => (i + 1) % CLAIMERS);
    await claimAll('ALREADY_CLAIMED', (i) => i % CLAIMERS);
    const after = residentKb(pid, 'VmRSS');
    const result: ManyCouponsMemoryResult = {
      coupons: COUPONS,
      maxRemembered: loadConfig({}, {}).SOLD_OUT_MEMORY_MAX_COUPONS,
      rssBeforeMb: Math.round(before / 1024),
      rssAfterMb: Math.round(after / 1024),
      rssPeakMb: Math.round(residentKb(pid, 'VmHWM') / 1024),
      growthMb: Math.round((after - before) / 1024),
      boundMb: RSS_GROWTH_BOUND_MB,
      wrongAnswers: wrong,
    };
    log(`many coupons memory: ${JSON.stringify(result)}`);
    return result;
  } finally {
    await http.close();
    await group.stop();
  }
}

export function manyCouponsMemoryTargets(r: ManyCouponsMemoryResult): BenchTarget[] {
  return [
    {
      name: `memory: ${r.coupons} coupons sold out grow the API process by <= ${r.boundMb} MB RSS, every answer right`,
      passed: r.growthMb <= r.boundMb && r.wrongAnswers === 0,
      detail: `${r.growthMb} MB (${r.rssBeforeMb} -> ${r.rssAfterMb} MB, peak ${r.rssPeakMb} MB); ${r.wrongAnswers} wrong answers`,
    },
  ];
}

export function manyCouponsMemoryTable(r: ManyCouponsMemoryResult): string {
  return [
    '| coupons sold out | remembered at most | RSS before | RSS after | growth | bound | peak RSS | wrong answers |',
    '|---|---|---|---|---|---|---|---|',
    `| ${r.coupons} | ${r.maxRemembered} | ${r.rssBeforeMb} MB | ${r.rssAfterMb} MB | ${r.growthMb} MB | ${r.boundMb} MB | ${r.rssPeakMb} MB | ${r.wrongAnswers} |`,
  ].join('\n');
}
