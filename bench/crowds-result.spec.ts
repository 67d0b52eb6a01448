import { CrowdsResult, SweepRow, crowdsTargets } from './crowds-result';
import { listenOverflows } from './crowds';

const sweepRow = (concurrency: number, over: Partial<SweepRow> = {}): SweepRow => ({
  concurrency,
  grantsPerSecond: 2000,
  p50Ms: 100,
  p99Ms: 200,
  maxMs: 250,
  meanMs: 100,
  listenOverflows: 0,
  apiPeakRssMb: 200,
  soldOutAnswersPerSecond: 5000,
  failedChecks: [],
  ...over,
});

function held(): Omit<CrowdsResult, 'targets'> {
  return {
    users: 100,
    stock: 50,
    latencyUsers: 100,
    latencyStock: 50,
    sweep: [sweepRow(64), sweepRow(4096, { grantsPerSecond: 1700, p99Ms: 240 })],
    manyCoupons: [
      { coupons: 1, stock: 50, grantsPerSecond: 1000, p99Ms: 10, couponsSoldOut: 1, failedChecks: [] },
      { coupons: 50, stock: 50, grantsPerSecond: 850, p99Ms: 10, couponsSoldOut: 50, failedChecks: [] },
    ],
    latency: [
      { variant: 'B', delayMs: 0, stock: 50, grantsPerSecond: 1000, p99Ms: 10, failedChecks: [] },
      { variant: 'B', delayMs: 1, stock: 50, grantsPerSecond: 750, p99Ms: 10, failedChecks: [] },
    ],
    tax: [{ bareRequestsPerSecond: 1000, serviceRequestsPerSecond: 750, failed: 0 }],
  };
}

const failed = (result: Omit<CrowdsResult, 'targets'>) =>
  crowdsTargets(result)
    .filter((t) => !t.passed)
    .map((t) => t.name);

describe('crowdsTargets', () => {
  it('passes a run that met every target', () => {
    expect(failed(held())).toEqual([]);
    expect(crowdsTargets(held())).toHaveLength(9);
  });

  it.each<[string, (r: Omit<CrowdsResult, 'targets'>) => void, string]>([
    ['a listen overflow at 4096', (r) => (r.sweep[1].listenOverflows = 1), 'sweep 4096 in flight: 0 listen overflows'],
    ['an unfair wait', (r) => (r.sweep[1].p99Ms = 251), 'sweep 4096 in flight: p99 <= 2.5 x mean latency'],
    ['throughput falling with the crowd', (r) => (r.sweep[1].grantsPerSecond = 1599), 'sweep 4096 in flight: grants/s >= 0.8 x at 64'],
    ['a failed check in the sweep', (r) => (r.sweep[0].failedChecks = ['no user succeeded twice']), 'sweep: every stress check passes'],
    [
      'many coupons too slow',
      (r) => (r.manyCoupons[1].grantsPerSecond = 799),
      '50 coupons: grants/s >= 0.8 x one coupon of the same stock',
    ],
    ['a starved coupon', (r) => (r.manyCoupons[1].couponsSoldOut = 49), '50 coupons: every coupon sells out, every check passes'],
    ['latency costing too much', (r) => (r.latency[1].grantsPerSecond = 699), 'latency: B at 1 ms each way >= 0.7 x B at 0 ms'],
    [
      'a heavy per-request tax',
      (r) => (r.tax[0].serviceRequestsPerSecond = 699),
      'per-request tax: service liveness >= 0.7 x bare NestJS + Fastify',
    ],
  ])('fails on %s', (_what, breakIt, target) => {
    const result = held();
    breakIt(result);
    expect(failed(result)).toEqual([target]);
  });
});

describe('crowdsTargets over a sweep run up and down', () => {
  const twice = () => {
    const result = held();
    result.sweep = [sweepRow(64), sweepRow(4096, { grantsPerSecond: 1700 }), sweepRow(4096, { grantsPerSecond: 1500 }), sweepRow(64)];
    return result;
  };

  it('compares the means of the runs: one slow run at 4096 is carried by the other', () => {
    expect(failed(twice())).toEqual([]);
  });

  it('fails when the means fall below 0.8x, and when any run overflows or waits unfairly', () => {
    const slow = twice();
    slow.sweep[2].grantsPerSecond = 1499;
    expect(failed(slow)).toEqual(['sweep 4096 in flight: grants/s >= 0.8 x at 64']);
    const overflow = twice();
    overflow.sweep[2].listenOverflows = 1;
    expect(failed(overflow)).toEqual(['sweep 4096 in flight: 0 listen overflows']);
    const unfair = twice();
    unfair.sweep[2].p99Ms = 251;
    expect(failed(unfair)).toEqual(['sweep 4096 in flight: p99 <= 2.5 x mean latency']);
  });
});

describe('listenOverflows', () => {
  it('reads TcpExt ListenOverflows from /proc/net/netstat', () => {
    const netstat = 'TcpExt: SyncookiesSent ListenOverflows ListenDrops\nTcpExt: 3 4967 4970\nIpExt: InNoRoutes\nIpExt: 0\n';
    expect(listenOverflows(netstat)).toBe(4967);
    expect(Number.isInteger(listenOverflows())).toBe(true);
  });
});
