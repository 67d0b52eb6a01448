/**
 * Retry-After values that pace clients. HTTP carries whole seconds, so a wait is rounded up to
 * at least 1 s and then spread over [wait, wait + max(1 s, JITTER_FRACTION x wait)]: clients
 * refused in the same instant come back over a span of seconds instead of all at once.
 */

/** How far past the expected wait a client may be sent: a fifth of it, at least one second. */
export const JITTER_FRACTION = 0.2;

/** Retry-After in whole seconds for a condition expected to last `expectedWaitMs`, jittered. */
export function jitteredRetryAfter(expectedWaitMs: number, random: () => number = Math.random): number {
  const wait = Math.max(1, Math.ceil((Number.isFinite(expectedWaitMs) ? expectedWaitMs : 0) / 1000));
  const spread = Math.max(1, Math.round(wait * JITTER_FRACTION));
  return wait + Math.min(spread, Math.floor(random() * (spread + 1)));
}

/**
 * How long a condition (an outage, a busy lock) is expected to go on, from how long it has gone
 * on: a condition seen for t ms is expected to last about t ms more, between `floorMs` and
 * `ceilingMs`. It starts at the first `observe()` after `quietMs` without one. No timers: a
 * process that stops seeing the condition simply stops calling.
 */
export class ConditionClock {
  private since = -Infinity;
  private last = -Infinity;

  constructor(
    private readonly floorMs: number,
    private readonly ceilingMs: number,
    private readonly quietMs = 2_000,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Notes the condition now; returns the wait it is expected to need. */
  observe(): number {
    const now = this.now();
    if (now - this.last > this.quietMs) this.since = now;
    this.last = now;
    return Math.min(this.ceilingMs, Math.max(this.floorMs, now - this.since));
  }
}
