import { MAX_TIMELINE_BUCKETS, buildTimeline, claimPlan, runReleasingSlots, timelineBucketMs } from './claim-runner';

describe('timelineBucketMs', () => {
  it.each([
    [600, 100],
    [5_900, 100],
    [12_000, 100],
    [12_001, 200],
    [30_000, 250],
    [45_000, 500],
    [120_000, 1_000],
    [600_000, 5_000],
  ])('a run of %i ms is drawn in %i ms buckets', (durationMs, widthMs) => {
    expect(timelineBucketMs(durationMs)).toBe(widthMs);
  });

  it('never draws more than MAX_TIMELINE_BUCKETS bars, and never one bar for a short sale', () => {
    for (const durationMs of [1, 300, 999, 7_777, 61_000, 3_600_000]) {
      const width = timelineBucketMs(durationMs);
      expect(Math.ceil(durationMs / width)).toBeLessThanOrEqual(MAX_TIMELINE_BUCKETS);
    }
    expect(Math.ceil(600 / timelineBucketMs(600))).toBeGreaterThanOrEqual(6);
  });
});

describe('buildTimeline', () => {
  const answer = (answeredAtMs: number, status: number, latencyMs = 10) => ({
    answeredAtMs,
    status,
    code: status === 200 ? null : 'SOLD_OUT',
    latencyMs,
  });

  it('puts each answer in its bucket, keeps empty buckets, and counts the stock down', () => {
    const timeline = buildTimeline([answer(10, 200), answer(90, 200, 30), answer(150, 409), answer(420, 409)], 3, 100);
    expect(timeline.map((b) => b.startMs)).toEqual([0, 100, 200, 300, 400]);
    expect(timeline.map((b) => b.widthMs)).toEqual([100, 100, 100, 100, 100]);
    expect(timeline.map((b) => b.granted)).toEqual([2, 0, 0, 0, 0]);
    expect(timeline.map((b) => b.stockLeft)).toEqual([1, 1, 1, 1, 1]);
    expect(timeline[0].outcomes).toEqual({ GRANTED: 2 });
    expect(timeline[1].outcomes).toEqual({ SOLD_OUT: 1 });
    expect(timeline[2].outcomes).toEqual({});
    expect([timeline[0].p50Ms, timeline[0].p99Ms]).toEqual([10, 30]);
  });
});

describe('claimPlan', () => {
  it('spreads users evenly over the coupons, each claiming distinct coupons', () => {
    const plan = claimPlan(6, ['A', 'B', 'C'], 2);
    expect(plan).toEqual([
      ['A', 'B'],
      ['B', 'C'],
      ['C', 'A'],
      ['A', 'B'],
      ['B', 'C'],
      ['C', 'A'],
    ]);
    expect(claimPlan(2, ['A'], 3)).toEqual([['A'], ['A']]);
  });
});

describe('runReleasingSlots', () => {
  it('a task still running after releaseAfterMs lets the next item start; every task still ends before it resolves', async () => {
    const started: string[] = [];
    let unfreeze!: () => void;
    const frozen = new Promise<void>((resolve) => (unfreeze = resolve));
    const done = runReleasingSlots(20)(['stuck', 'next', 'last'], 1, async (item) => {
      started.push(item);
      if (item === 'stuck') await frozen;
    });
    let finished = false;
    void done.then(() => (finished = true));
    // One place in flight, held by a task that never answers until it is let go.
    for (let waited = 0; started.length < 3 && waited < 1000; waited += 5) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(started).toEqual(['stuck', 'next', 'last']);
    expect(finished).toBe(false);
    unfreeze();
    await done;
    expect(finished).toBe(true);
  });
});
