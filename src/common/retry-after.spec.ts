import { ConditionClock, jitteredRetryAfter } from './retry-after';

describe('jitteredRetryAfter', () => {
  it('never sends a client back before the expected wait, and spreads by a fifth of it, at least a second', () => {
    expect(jitteredRetryAfter(0, () => 0)).toBe(1);
    expect(jitteredRetryAfter(0, () => 0.99)).toBe(2);
    expect(jitteredRetryAfter(1_200, () => 0)).toBe(2);
    expect(jitteredRetryAfter(20_000, () => 0)).toBe(20);
    expect(jitteredRetryAfter(20_000, () => 0.999)).toBe(24);
    expect(jitteredRetryAfter(Number.NaN, () => 0)).toBe(1);
  });

  it('spreads a crowd refused in the same instant over every second of its span', () => {
    const values = new Set(Array.from({ length: 200 }, () => jitteredRetryAfter(10_000)));
    expect([...values].sort()).toEqual([10, 11, 12]);
  });
});

describe('ConditionClock', () => {
  it('expects a condition to last as long as it has lasted, within its floor and ceiling, and restarts after a quiet gap', () => {
    let now = 0;
    const clock = new ConditionClock(1_000, 5_000, 2_000, () => now);
    expect(clock.observe()).toBe(1_000);
    now = 1_500;
    expect(clock.observe()).toBe(1_500);
    now = 3_000;
    expect(clock.observe()).toBe(3_000);
    now = 4_900;
    expect(clock.observe()).toBe(4_900);
    now = 6_800;
    expect(clock.observe()).toBe(5_000);
    now = 9_000; // 2.2 s without the condition: a new one
    expect(clock.observe()).toBe(1_000);
  });
});
