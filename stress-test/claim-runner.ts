import * as hdr from 'hdr-histogram-js';
import { HttpPool, runBounded } from './http-pool';
import { SaleUser } from './user-seeder';

/** The final answer one claim request got (after retries of retryable 503s). */
export interface ClaimRecord {
  username: string;
  status: number;
  code: string | null;
  claimedAt: string | null;
  /** Milliseconds since the sale started, when the final answer arrived. */
  answeredAtMs: number;
  latencyMs: number;
  retries: number;
  doubleDip: boolean;
}

export interface TimelineBucket {
  second: number;
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

const RETRYABLE = new Set(['LOCK_BUSY', 'LOCK_UNAVAILABLE', 'DATABASE_UNAVAILABLE', 'TOO_MANY_REQUESTS']);

export const outcomeOf = (record: Pick<ClaimRecord, 'status' | 'code'>): string =>
  record.status === 200 ? 'GRANTED' : record.status === 0 ? 'NO_ANSWER' : (record.code ?? `HTTP_${record.status}`);

function newHistogram(): hdr.Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3 });
}

/**
 * Every user claims once, in a seeded random order, with at most `concurrency` requests in
 * flight over keep-alive connections; one "double dip" user fires `doubleDip` claims at once
 * at the very start. Latency is recorded in microseconds in an HDR histogram.
 */
export async function runSale(options: {
  http: HttpPool;
  couponName: string;
  users: SaleUser[];
  stock: number;
  concurrency: number;
  doubleDip: number;
  seed: number;
  durationSeconds: number;
  retries: number;
  retryDelayMs: number;
  onProgress?: (progress: SaleProgress) => void;
}): Promise<SaleRun> {
  const { http, couponName, users } = options;
  const [dipper, ...crowd] = users;
  const order = shuffle(crowd, options.seed);
  const jobs: { user: SaleUser; doubleDip: boolean }[] = [
    ...Array.from({ length: options.doubleDip > 0 ? options.doubleDip : 1 }, () => ({ user: dipper, doubleDip: options.doubleDip > 0 })),
    ...order.map((user) => ({ user, doubleDip: false })),
  ];
  const records: ClaimRecord[] = [];
  const retryableSeen: Record<string, number> = {};
  const latency = newHistogram();
  const perSecond = new Map<number, { outcomes: Record<string, number>; granted: number; histogram: hdr.Histogram }>();
  const started = performance.now();
  const deadline = started + options.durationSeconds * 1000;
  let granted = 0;
  let soldOutAtMs: number | null = null;
  let cappedByDuration = false;

  const progressTimer = options.onProgress
    ? setInterval(() => options.onProgress!({ done: records.length, total: jobs.length, granted, elapsedMs: performance.now() - started }), 200)
    : null;

  // The double dip's K claims go first and all at once (they are the first K jobs taken).
  await runBounded(jobs, Math.max(options.concurrency, options.doubleDip), async (job) => {
    if (performance.now() > deadline) {
      // Not sent: the sale did not finish inside the cap, which the checks must see.
      cappedByDuration = true;
      records.push({
        username: job.user.username, status: 0, code: 'NOT_SENT_DURATION_CAP', claimedAt: null,
        answeredAtMs: performance.now() - started, latencyMs: 0, retries: 0, doubleDip: job.doubleDip,
      });
      return;
    }
    const sent = performance.now();
    let retries = 0;
    let answer = await http.request('POST', '/api/coupons/claim', { coupon_name: couponName }, job.user.token);
    while (answer.status >= 429 && RETRYABLE.has(answer.body?.code) && retries < options.retries && performance.now() < deadline) {
      retryableSeen[answer.body.code] = (retryableSeen[answer.body.code] ?? 0) + 1;
      retries++;
      await new Promise((resolve) => setTimeout(resolve, options.retryDelayMs * (0.5 + Math.random())));
      answer = await http.request('POST', '/api/coupons/claim', { coupon_name: couponName }, job.user.token);
    }
    const now = performance.now();
    const record: ClaimRecord = {
      username: job.user.username,
      status: answer.status,
      code: answer.status === 200 ? null : (answer.body?.code ?? answer.failure ?? null),
      claimedAt: answer.status === 200 ? (answer.body?.claimed_at ?? null) : null,
      answeredAtMs: now - started,
      latencyMs: now - sent,
      retries,
      doubleDip: job.doubleDip,
    };
    records.push(record);
    const micros = Math.max(1, Math.round((now - sent) * 1000));
    latency.recordValue(micros);
    const second = Math.floor(record.answeredAtMs / 1000);
    let bucket = perSecond.get(second);
    if (!bucket) {
      bucket = { outcomes: {}, granted: 0, histogram: newHistogram() };
      perSecond.set(second, bucket);
    }
    const outcome = outcomeOf(record);
    bucket.outcomes[outcome] = (bucket.outcomes[outcome] ?? 0) + 1;
    bucket.histogram.recordValue(micros);
    if (record.status === 200) {
      granted++;
      bucket.granted++;
      if (granted >= options.stock) soldOutAtMs = record.answeredAtMs;
    }
  });
  if (progressTimer) clearInterval(progressTimer);
  options.onProgress?.({ done: records.length, total: jobs.length, granted, elapsedMs: performance.now() - started });

  let stockLeft = options.stock;
  const timeline = [...perSecond.keys()]
    .sort((a, b) => a - b)
    .map((second) => {
      const bucket = perSecond.get(second)!;
      stockLeft -= bucket.granted;
      const row = {
        second,
        outcomes: bucket.outcomes,
        granted: bucket.granted,
        stockLeft,
        p50Ms: bucket.histogram.getValueAtPercentile(50) / 1000,
        p99Ms: bucket.histogram.getValueAtPercentile(99) / 1000,
      };
      bucket.histogram.destroy();
      return row;
    });
  return { records, durationMs: performance.now() - started, soldOutAtMs, retryableSeen, latency, timeline, cappedByDuration };
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
