import { Logger } from '@nestjs/common';
import { ClaimVerdict, SaleWindow, judgeClaims } from './claim-decision';
import type { ClaimRefusal } from './claim-outcome';

/** What a remembered sold-out answer is checked against: one read, no lock, no transaction. */
export interface StockState {
  stockVersion: number;
  window: SaleWindow;
}

export interface SoldOutMemorySource {
  /** The coupon's stock version and sale window now; null when it no longer exists. */
  stockState(couponName: string): Promise<StockState | null>;
  /** At most `limit` + 1 holders of the coupon (one more than asked shows there are more). */
  holderIds(couponId: string, limit: number): Promise<string[]>;
}

export interface SoldOutMemoryOptions {
  /** How long one stock read may answer later claims (SOLD_OUT_READ_REUSE_MS); 0 by default. */
  reuseMs?: number;
  /** Coupons remembered at most; the least recently answered is forgotten first. */
  maxCoupons?: number;
  /** Holder ids kept at most over all coupons; also the most one coupon may have to be remembered. */
  maxHolders?: number;
  now?: () => number;
}

interface SoldOutCoupon {
  couponName: string;
  couponId: string;
  stockVersion: number;
  /** Loaded once after the sell-out; null until then, or for ever above the holder limit. */
  holders: ReadonlySet<string> | null;
  /** The stock-state read in flight, and the one queued behind it for claims that came later. */
  reading?: Promise<StockState | null>;
  queued?: Promise<StockState | null>;
  /** The newest read and when it started (monotonic ms), for reuse within `reuseMs`. */
  latest?: { startedAt: number; state: Promise<StockState | null> };
}

/** Above this many holders a sold-out coupon is answered through the database instead. */
export const SOLD_OUT_HOLDER_LIMIT = 200_000;

/**
 * Refusals of coupons this process saw sell out, without a lock or a transaction.
 *
 * While a coupon's stock_version stays the same its stock stays at zero (only an admin update
 * adds stock, and every update bumps the version), and its holders never lose a claim. So a
 * holder is ALREADY_CLAIMED from memory alone; anyone else is judged on a stock-state read
 * that STARTED AFTER the claim arrived: a claim joins the read queued behind the one in flight,
 * never the one in flight, which may have been sent before an update that answered 200 before
 * this claim was sent. One read in flight per coupon, one queued: a crowd costs a read per
 * round trip, not a read each, and no answer is older than the claim it answers.
 *
 * With `reuseMs` > 0 a read also answers claims that arrive up to `reuseMs` after it STARTED.
 * That stays true only because every admin change waits `reuseMs` after its commit before it
 * answers 200 (waitOutSoldOutReads in sold-out-read-reuse.ts, called by CouponsService): a
 * claim sent after that 200 can no longer meet a read that started before the commit.
 *
 * Memory is bounded: at most `maxCoupons` coupons and `maxHolders` holder ids over all of them,
 * the least recently answered coupon forgotten first (its claims then go through a batch, which
 * remembers it again at the next sell-out it settles). Holders are read in one page of at most
 * the per-coupon limit + 1 rows: a coupon with more is not remembered at all.
 */
export class SoldOutMemory {
  private readonly logger = new Logger(SoldOutMemory.name);
  /** Map order is recency: the first entry is the least recently answered. */
  private readonly coupons = new Map<string, SoldOutCoupon>();
  private readonly reuseMs: number;
  private readonly maxCoupons: number;
  private readonly maxHolders: number;
  private readonly holderLimit: number;
  private readonly now: () => number;
  private heldIds = 0;
  private mostRecent: SoldOutCoupon | undefined;

  constructor(
    private readonly source: SoldOutMemorySource,
    options: SoldOutMemoryOptions = {},
  ) {
    this.reuseMs = options.reuseMs ?? 0;
    this.maxCoupons = options.maxCoupons ?? Infinity;
    this.maxHolders = options.maxHolders ?? Infinity;
    this.holderLimit = Math.min(SOLD_OUT_HOLDER_LIMIT, this.maxHolders);
    this.now = options.now ?? (() => performance.now());
  }

  /** Coupons remembered now, and the holder ids they keep (tests and the memory bench read it). */
  get size(): { coupons: number; holders: number } {
    return { coupons: this.coupons.size, holders: this.heldIds };
  }

  /** Called when a settlement left `couponName` at zero stock at `stockVersion`; loads its holders in the background. */
  remember(couponName: string, couponId: string, stockVersion: number): Promise<void> {
    const known = this.coupons.get(couponName);
    if (known && known.couponId === couponId && known.stockVersion >= stockVersion) return Promise.resolve();
    if (known) this.forget(couponName, known);
    const entry: SoldOutCoupon = { couponName, couponId, stockVersion, holders: null };
    this.coupons.set(couponName, entry);
    this.evictPastBounds();
    return this.source.holderIds(couponId, this.holderLimit).then(
      (ids) => {
        if (ids.length > this.holderLimit || this.coupons.get(couponName) !== entry) return;
        entry.holders = new Set(ids);
        this.heldIds += ids.length;
        this.evictPastBounds();
      },
      (error: Error) => {
        this.forget(couponName, entry);
        this.logger.warn(`could not load holders of sold-out ${couponName}: ${error.message}`);
      },
    );
  }

  /** Whether claims of `couponName` can be answered here (a Map lookup; the fast path's first filter). */
  knows(couponName: unknown): boolean {
    return typeof couponName === 'string' && Boolean(this.coupons.get(couponName)?.holders);
  }

  /** The refusal for this claim, or null when it must go through a batch. Rejects when the read fails. */
  async answer(couponName: string, userId: string): Promise<ClaimRefusal | null> {
    const known = this.coupons.get(couponName);
    if (!known?.holders) return null;
    this.touch(known);
    const [withoutState] = judgeClaims([userId], { holders: known.holders });
    if (withoutState.kind !== 'needs_state') return settledRefusal(withoutState);

    const state = await this.stateReadAfterNow(known);
    if (!state || state.stockVersion !== known.stockVersion) {
      this.forget(couponName, known);
      return null;
    }
    const [verdict] = judgeClaims([userId], { holders: known.holders, window: state.window, remaining: 0 });
    return settledRefusal(verdict);
  }

  private stateReadAfterNow(known: SoldOutCoupon): Promise<StockState | null> {
    if (known.latest && this.now() - known.latest.startedAt < this.reuseMs) return known.latest.state;
    if (known.queued) return known.queued;
    if (!known.reading) return this.startRead(known);
    const afterCurrent = known.reading.then(
      () => undefined,
      () => undefined,
    );
    known.queued = afterCurrent.then(() => {
      known.queued = undefined;
      return this.startRead(known);
    });
    return known.queued;
  }

  private startRead(known: SoldOutCoupon): Promise<StockState | null> {
    const startedAt = this.now();
    const read = this.source.stockState(known.couponName);
    known.reading = read;
    known.latest = { startedAt, state: read };
    const done = () => {
      if (known.reading === read) known.reading = undefined;
    };
    read.then(done, () => {
      done();
      if (known.latest?.state === read) known.latest = undefined;
    });
    return read;
  }

  private forget(couponName: string, entry: SoldOutCoupon): void {
    if (this.coupons.get(couponName) !== entry) return;
    this.coupons.delete(couponName);
    this.heldIds -= entry.holders?.size ?? 0;
    if (this.mostRecent === entry) this.mostRecent = undefined;
  }

  /** Moves `entry` to the back of the recency order (a crowd on one coupon pays this once). */
  private touch(entry: SoldOutCoupon): void {
    if (this.mostRecent === entry) return;
    this.coupons.delete(entry.couponName);
    this.coupons.set(entry.couponName, entry);
    this.mostRecent = entry;
  }

  private evictPastBounds(): void {
    while (this.coupons.size > this.maxCoupons || this.heldIds > this.maxHolders) {
      const [name, oldest] = this.coupons.entries().next().value as [string, SoldOutCoupon];
      this.forget(name, oldest);
    }
  }
}

/** A verdict with stock known to be zero is never a grant; needs_state cannot follow full facts. */
function settledRefusal(verdict: ClaimVerdict): ClaimRefusal | null {
  return verdict.kind === 'grant' || verdict.kind === 'needs_state' ? null : verdict;
}
