import type { AppConfig } from '../config/app-config';

type ReuseConfig = Pick<AppConfig, 'SOLD_OUT_READ_REUSE_MS'>;

/**
 * How long one stock read of the sold-out memory may answer later claims. It stays true only
 * because every admin change of a coupon calls `waitOutSoldOutReads` after its commit and
 * before it answers: a claim sent after that answer can no longer meet a read that started
 * before the commit. Every process of a deployment must use the same value.
 */
export function soldOutReadReuseMs(config: ReuseConfig): number {
  return config.SOLD_OUT_READ_REUSE_MS;
}

/** Waits out every sold-out read that may have started before a just-committed admin change. */
export async function waitOutSoldOutReads(config: ReuseConfig): Promise<void> {
  const reuseMs = soldOutReadReuseMs(config);
  // A few ms over: a timer may fire a millisecond early, and hosts' clocks differ slightly in rate.
  if (reuseMs > 0) await new Promise((resolve) => setTimeout(resolve, reuseMs + 5));
}
