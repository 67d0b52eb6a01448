import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { FakeFault, startFakeCouponServer } from './support/fake-coupon-server';

const CLI = join(__dirname, '..', 'dist', 'stress-test', 'cli.js');

function stress(args: string[], env: Record<string, string> = {}) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('npm run stress', () => {
  it('passes against the real service it starts itself, and reports what it saw', async () => {
    const result = await stress(['--users', '400', '--stock', '60', '--concurrency', '64', '--double-dip', '10', '--json']);
    expect(result.stderr).toContain('the sale starts');
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report.passed).toBe(true);
    expect(report.counts.byCode.GRANTED).toBe(60);
    expect(report.counts.byCode.ALREADY_CLAIMED).toBe(9);
    expect(report.counts.byCode.SOLD_OUT).toBe(400 - 60);
    expect(report.checks.map((c: { name: string }) => c.name)).toEqual(
      expect.arrayContaining(['database rows = successes', 'double dip: exactly one 200, the rest ALREADY_CLAIMED']),
    );
    // Every claim carried an Idempotency-Key: each granted key holds exactly its 200 and one row.
    expect(report.checks.map((c: { name: string }) => c.name)).toEqual(
      expect.arrayContaining(['exactly one row per granted key', 'no grant unknown to its client', 'replays counted']),
    );
    expect(report.latencyMs.p99).toBeGreaterThan(0);
    expect(report.timeline.length).toBeGreaterThan(0);
  });

  it('prints a human report with the checks when not asked for JSON', async () => {
    const result = await stress(['--users', '50', '--stock', '10', '--concurrency', '16', '--double-dip', '3']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/latency p50 \/ p90 \/ p99/);
    expect(result.stdout).toContain('PASS  successes = min(stock, users)');
    expect(result.stdout).toContain('RESULT: the sale held');
  });

  it.each<[FakeFault, string]>([
    ['oversell', 'successes = min(stock, users)'],
    ['double-grant', 'double dip: exactly one 200, the rest ALREADY_CLAIMED'],
    ['server-error', 'no 5xx but the documented retryable 503s'],
    ['hang', 'every request got an answer'],
  ])('FAILS against a service that does "%s", naming the check', async (fault, check) => {
    const fake = await startFakeCouponServer(fault);
    try {
      const result = await stress(
        ['--url', fake.url, '--users', '200', '--stock', '20', '--concurrency', '32', '--double-dip', '5', '--timeout', '1500'],
        { STRESS_ADMIN_PASSWORD: 'irrelevant-for-the-fake' },
      );
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`FAILED checks:`);
      expect(result.stderr).toContain(check);
      expect(result.stdout).toContain(`FAIL  ${check}`);
    } finally {
      await fake.close();
    }
  });

  it('passes against an honest fake too (the checks are not rigged to fail on --url)', async () => {
    const fake = await startFakeCouponServer('honest');
    try {
      const result = await stress(['--url', fake.url, '--users', '100', '--stock', '10', '--double-dip', '4'], {
        STRESS_ADMIN_PASSWORD: 'x',
      });
      expect(result.stdout).toContain('RESULT: the sale held');
      expect(result.code).toBe(0);
    } finally {
      await fake.close();
    }
  });

  it('sells many coupons at once, checking each coupon (real service)', async () => {
    const result = await stress([
      '--users',
      '300',
      '--stock',
      '100',
      '--coupons',
      '7',
      '--claims-per-user',
      '2',
      '--concurrency',
      '64',
      '--double-dip',
      '5',
      '--json',
    ]);
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report.scenario).toMatchObject({ coupons: 7, claimsPerUser: 2, stock: 100 });
    // 1 dipper claim (5 sent) + 299 users x 2 coupons; each coupon has ~85 claimants for 14-15 units.
    expect(report.counts.requests).toBe(5 + 299 * 2);
    expect(report.counts.byCode.GRANTED).toBe(100);
    const checks = Object.fromEntries(report.checks.map((c: { name: string; detail: string }) => [c.name, c.detail]));
    expect(checks['every coupon sold out']).toBe('7 coupons, each sold to the last unit');
    expect(checks['database rows = successes']).toBe('held on all 7 coupons');
  });

  it('FAILS against a service that oversells one coupon of many, naming the coupon', async () => {
    const fake = await startFakeCouponServer('oversell-one-coupon');
    try {
      const result = await stress(
        [
          '--url',
          fake.url,
          '--users',
          '200',
          '--stock',
          '50',
          '--coupons',
          '5',
          '--claims-per-user',
          '2',
          '--coupon',
          'MANY',
          '--double-dip',
          '3',
        ],
        { STRESS_ADMIN_PASSWORD: 'irrelevant-for-the-fake' },
      );
      expect(result.code).toBe(1);
      expect(result.stdout).toMatch(
        /FAIL {2}successes = min\(stock, users\): failed on 1 of 5 coupons: MANY_2: \d+ successes, expected 10/,
      );
      expect(result.stdout).toMatch(/FAIL {2}remaining_amount = stock - successes: failed on 1 of 5 coupons: MANY_2/);
      expect(result.stdout).toContain('PASS  no user succeeded twice');
    } finally {
      await fake.close();
    }
  });

  it('passes against an honest fake selling many coupons', async () => {
    const fake = await startFakeCouponServer('honest');
    try {
      const result = await stress(
        ['--url', fake.url, '--users', '200', '--stock', '50', '--coupons', '5', '--claims-per-user', '2', '--double-dip', '3'],
        {
          STRESS_ADMIN_PASSWORD: 'x',
        },
      );
      expect(result.stdout).toContain('PASS  every coupon sold out');
      expect(result.stdout).toContain('RESULT: the sale held');
      expect(result.code).toBe(0);
    } finally {
      await fake.close();
    }
  });

  it('refuses bad options with exit 2 and explains --help', async () => {
    const bad = await stress(['--users', 'many']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--users needs a whole number');
    const help = await stress(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('--double-dip K');
  });
});
