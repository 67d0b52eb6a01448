import * as hdr from 'hdr-histogram-js';
import { randomUUID } from 'node:crypto';
import type { ErrorCode } from '../src/common/domain-error';
import { HttpAnswer, HttpPool, runBounded } from './http-pool';
import { SaleUser } from './user-seeder';

/** The final answer one claim request got (after retries of retryable 503s). */
export interface ClaimRecord {
  username: string;
  /** The coupon this claim asked for. */
  coupon: string;
  status: number;
  code: string | null;
  claimedAt: string | null;
  /** Milliseconds since the sale started, when the final answer arrived. */
  answeredAtMs: number;
  latencyMs: number;
  retries: number;
  doubleDip: boolean;
  /** The Idempotency-Key every send of this claim carried (null: sent without one). */
  key: string | null;
  /** The final answer was a replay (`Idempotent-Replayed: true`). */
  replayed: boolean;
}

/** Answers that arrived in [startMs, startMs + widthMs) of the sale. */
export interface TimelineBucket {
  startMs: number;
  widthMs: number;
  outcomes: Record<string, number>;
  granted: number;
  stockLeft: number;
  p50Ms: number;
  p99Ms: number;
}

export interface SaleRun {
  records: ClaimRecord[];
  durationMs: number;
  /** Milliseconds until the last grant (stock gone), or null if it never sold out. */
  soldOutAtMs: number | null;
  retryableSeen: Record<string, number>;
  latency: hdr.Histogram;
  timeline: TimelineBucket[];
  cappedByDuration: boolean;
}

export interface SaleProgress {
  done: number;
  total: number;
  granted: number;
  elapsedMs: number;
}

/** The 503s the contract documents as retryable on a claim: nothing was written, try again. */
export const RETRYABLE_503_CODES: ReadonlySet<string> = new Set<ErrorCode>(['LOCK_BUSY', 'LOCK_UNAVAILABLE', 'DATABASE_UNAVAILABLE']);
/** What the claim runner retries: the retryable 503s and the per-user rate limit's 429. */
const RETRYABLE_CODES: ReadonlySet<string> = new Set([...RETRYABLE_503_CODES, 'TOO_MANY_REQUESTS']);
/**
 * With an Idempotency-Key a client may also retry what a keyless one must not: an unknown commit
 * outcome, a request of its key still in flight, and a connection reset or refused (the retry
 * tells the truth). A request unanswered within the timeout is not retried: a hang is what
 * "every request got an answer" exists to catch.
 */
const RETRYABLE_WITH_KEY_CODES: ReadonlySet<string> = new Set([...RETRYABLE_CODES, 'CLAIM_OUTCOME_UNKNOWN', 'IDEMPOTENCY_KEY_IN_USE']);

export const outcomeOf = (record: Pick<ClaimRecord, 'status' | 'code'>): string =>
  record.status === 200 ? 'GRANTED' : record.status === 0 ? 'NO_ANSWER' : (record.code ?? `HTTP_${record.status}`);

function newHistogram(): hdr.Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3 });
}

/** Who claims which coupon: `claimsPerUser` distinct coupons per user, spread evenly over the coupons. */
export function claimPlan(users: number, coupons: string[], claimsPerUser: number): string[][] {
  const perUser = Math.min(claimsPerUser, coupons.length);
  return Array.from({ length: users }, (_, i) => Array.from({ length: perUser }, (_, k) => coupons[(i + k) % coupons.length]));
}

export interface SaleOptions {
  http: HttpPool;
  couponName: string;
  /** Several coupons sold at once; defaults to [couponName]. */
  coupons?: string[];
  claimsPerUser?: number;
  users: SaleUser[];
  stock: number;
  concurrency: number;
  doubleDip: number;
  seed: number;
  durationSeconds: number;
  retries: number;
  retryDelayMs: number;
  /**
   * Send an Idempotency-Key (one per claim) and retry with the same key every 503, 409
   * IDEMPOTENCY_KEY_IN_USE and unanswered request, waiting at least Retry-After.
   */
  idempotencyKeys?: boolean;
  /**
   * A claim still unanswered after this long stops counting against `concurrency` (it still
   * runs to its answer): a crowd does not wait for its members stuck on a frozen process.
   * Unset: the limit counts every claim in flight.
   */
  slotReleaseAfterMs?: number;
  onProgress?: (progress: SaleProgress) => void;
}

/** One claim request to send (and retry): who, which coupon, and whether it is one of the double dip. */
interface ClaimJob {
  user: SaleUser;
  coupon: string;
  doubleDip: boolean;
}

/**
 * Every user claims (one coupon, or `claimsPerUser` of `coupons` at once), in a seeded random
 * order, with at most `concurrency` requests in flight over keep-alive connections; one "double
 * dip" user fires `doubleDip` claims of the first coupon at once at the very start. `stock` is
 * the total the sale can grant (all coupons). Latency is recorded in microseconds in an HDR histogram.
 */
export async function runSale(options: SaleOptions): Promise<SaleRun> {
  const jobs = claimJobs(options);
  const records: ClaimRecord[] = [];
  const retryableSeen: Record<string, number> = {};
  const latency = newHistogram();
  const started = performance.now();
  const deadline = started + options.durationSeconds * 1000;
  let granted = 0;
  let soldOutAtMs: number | null = null;
  let cappedByDuration = false;
  const progress = () => ({ done: records.length, total: jobs.length, granted, elapsedMs: performance.now() - started });
  const progressTimer = options.onProgress ? setInterval(() => options.onProgress!(progress()), 200) : null;

  // The double dip's K claims go first and all at once (they are the first K jobs taken).
  const run = options.slotReleaseAfterMs === undefined ? runBounded : runReleasingSlots(options.slotReleaseAfterMs);
  await run(jobs, Math.max(options.concurrency, options.doubleDip), async (job) => {
    if (performance.now() > deadline) {
      // Not sent: the sale did not finish inside the cap, which the checks must see.
      cappedByDuration = true;
      records.push({
        username: job.user.username,
        coupon: job.coupon,
        status: 0,
        code: 'NOT_SENT_DURATION_CAP',
        claimedAt: null,
        answeredAtMs: performance.now() - started,
        latencyMs: 0,
        retries: 0,
        doubleDip: job.doubleDip,
        key: null,
        replayed: false,
      });
      return;
    }
    const record = await claimWithRetries(options, job, deadline, started, retryableSeen);
    records.push(record);
    latency.recordValue(Math.max(1, Math.round(record.latencyMs * 1000)));
    if (record.status === 200) {
      granted++;
      if (granted >= options.stock) soldOutAtMs = record.answeredAtMs;
    }
  });
  if (progressTimer) clearInterval(progressTimer);
  options.onProgress?.(progress());
  const durationMs = performance.now() - started;
  const timeline = buildTimeline(records, options.stock, timelineBucketMs(durationMs));
  return { records, durationMs, soldOutAtMs, retryableSeen, latency, timeline, cappedByDuration };
}

/** The double dipper's claims first, then every other user's, in the seeded order. */
function claimJobs(options: SaleOptions): ClaimJob[] {
  const coupons = options.coupons ?? [options.couponName];
  const [dipper, ...crowd] = options.users;
  const order = shuffle(crowd, options.seed);
  const plan = claimPlan(order.length, coupons, options.claimsPerUser ?? 1);
  return [
    ...Array.from({ length: options.doubleDip > 0 ? options.doubleDip : 1 }, () => ({
      user: dipper,
      coupon: coupons[0],
      doubleDip: options.doubleDip > 0,
    })),
    ...order.flatMap((user, i) => plan[i].map((coupon) => ({ user, coupon, doubleDip: false }))),
  ];
}

/** Sends one claim, retrying the retryable answers (counted in `retryableSeen`) until the retries or the deadline run out. */
async function claimWithRetries(
  options: SaleOptions,
  job: ClaimJob,
  deadline: number,
  saleStarted: number,
  retryableSeen: Record<string, number>,
): Promise<ClaimRecord> {
  const { http } = options;
  const sent = performance.now();
  const key = options.idempotencyKeys ? randomUUID() : null;
  const send = () =>
    http.request('POST', '/api/coupons/claim', { coupon_name: job.coupon }, job.user.token, key ? { 'idempotency-key': key } : undefined);
  const retryable = (answer: HttpAnswer) =>
    key
      ? (answer.status === 0 && !/timeout/i.test(answer.failure ?? '')) ||
        (answer.status >= 409 && RETRYABLE_WITH_KEY_CODES.has(answer.body?.code))
      : answer.status >= 429 && RETRYABLE_CODES.has(answer.body?.code);
  let retries = 0;
  let answer = await send();
  while (retryable(answer) && retries < options.retries && performance.now() < deadline) {
    const seen = answer.status === 0 ? 'NO_ANSWER' : answer.body.code;
    retryableSeen[seen] = (retryableSeen[seen] ?? 0) + 1;
    retries++;
    const jittered = options.retryDelayMs * (0.5 + Math.random());
    // With a key, the client honours Retry-After (seconds) as real clients are told to.
    const retryAfterMs = key && answer.retryAfter ? Number(answer.retryAfter) * 1000 : 0;
    await new Promise((resolve) => setTimeout(resolve, Math.max(jittered, retryAfterMs)));
    answer = await send();
  }
  const now = performance.now();
  return {
    username: job.user.username,
    coupon: job.coupon,
    status: answer.status,
    code: answer.status === 200 ? null : (answer.body?.code ?? answer.failure ?? null),
    claimedAt: answer.status === 200 ? (answer.body?.claimed_at ?? null) : null,
    answeredAtMs: now - saleStarted,
    latencyMs: now - sent,
    retries,
    doubleDip: job.doubleDip,
    key,
    replayed: answer.replayed === true,
  };
}

/** Like runBounded, but a task still running after `releaseAfterMs` frees its slot for the next item. */
export function runReleasingSlots(releaseAfterMs: number) {
  return <T>(items: T[], limit: number, task: (item: T) => Promise<void>): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      let cursor = 0;
      let slotsInUse = 0;
      let running = 0;
      const startMore = () => {
        while (slotsInUse < limit && cursor < items.length) {
          const item = items[cursor++];
          slotsInUse++;
          running++;
          let released = false;
          const release = () => {
            if (released) return;
            released = true;
            slotsInUse--;
            startMore();
          };
          const timer = setTimeout(release, releaseAfterMs);
          task(item).then(() => {
            clearTimeout(timer);
            running--;
            release();
            if (running === 0 && cursor >= items.length) resolve();
          }, reject);
        }
        if (running === 0 && cursor >= items.length) resolve();
      };
      startMore();
    });
}

/** Bucket widths a reader can add up in their head, from 100 ms (a sale over in a blink) up. */
const BUCKET_WIDTHS_MS = [100, 200, 250, 500, 1_000, 2_000, 5_000, 10_000, 15_000, 30_000, 60_000, 300_000];
/** About as many bars as a chart's width shows apart. */
export const MAX_TIMELINE_BUCKETS = 120;

/**
 * The time axis' bucket width for a run of `durationMs`: the narrowest of BUCKET_WIDTHS_MS that
 * draws at most MAX_TIMELINE_BUCKETS bars, so a 0.6 s sell-out gets six 100 ms bars, not one bar.
 */
export function timelineBucketMs(durationMs: number): number {
  return (
    BUCKET_WIDTHS_MS.find((width) => Math.ceil(durationMs / width) <= MAX_TIMELINE_BUCKETS) ?? BUCKET_WIDTHS_MS[BUCKET_WIDTHS_MS.length - 1]
  );
}

/** Answers per time bucket (every bucket from 0 to the last answer, empty ones included, so the axis is linear). */
export function buildTimeline(
  records: Pick<ClaimRecord, 'status' | 'code' | 'answeredAtMs' | 'latencyMs'>[],
  stock: number,
  widthMs: number,
): TimelineBucket[] {
  if (records.length === 0) return [];
  const count = Math.floor(Math.max(...records.map((r) => r.answeredAtMs)) / widthMs) + 1;
  const latencies: number[][] = Array.from({ length: count }, () => []);
  const buckets: TimelineBucket[] = Array.from({ length: count }, (_, i) => ({
    startMs: i * widthMs,
    widthMs,
    outcomes: {},
    granted: 0,
    stockLeft: 0,
    p50Ms: 0,
    p99Ms: 0,
  }));
  for (const record of records) {
    const i = Math.floor(record.answeredAtMs / widthMs);
    const outcome = outcomeOf(record);
    buckets[i].outcomes[outcome] = (buckets[i].outcomes[outcome] ?? 0) + 1;
    if (record.status === 200) buckets[i].granted++;
    if (!(record.status === 0 && record.latencyMs === 0)) latencies[i].push(record.latencyMs);
  }
  let stockLeft = stock;
  for (const [i, bucket] of buckets.entries()) {
    stockLeft -= bucket.granted;
    bucket.stockLeft = stockLeft;
    const sorted = latencies[i].sort((a, b) => a - b);
    const at = (p: number) =>
      sorted.length === 0 ? 0 : Math.round(sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] * 100) / 100;
    bucket.p50Ms = at(50);
    bucket.p99Ms = at(99);
  }
  return buckets;
}

/** Deterministic Fisher-Yates with a small seeded generator (mulberry32). */
export function shuffle<T>(items: T[], seed: number): T[] {
  const out = [...items];
  let state = seed >>> 0;
  const random = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}
