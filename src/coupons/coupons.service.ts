import { Inject, Injectable } from '@nestjs/common';
import { constraintOf, isCheckViolation, isUniqueViolation } from '../common/database-errors';
import { DomainError, couponNotFound, idempotencyKeyInUse } from '../common/domain-error';
import { Page, PageQueryDto, decodeCursor, pageParams, toPage } from '../common/pagination';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { IdempotencyKey, Replay, errorAnswer } from '../idempotency/idempotency-key';
import { IdempotencyService } from '../idempotency/idempotency.service';
import { couponLockError, couponLockResource } from '../lock/coupon-lock';
import { LockService } from '../lock/lock.service';
import { IdempotencyKeysRepository, KEY_TAKEN_CONSTRAINT, SqlRunner } from '../idempotency/idempotency-keys.repository';
import { CouponRow, CouponsRepository } from './coupons.repository';
import { UpdateCouponDto } from './dto/update-coupon.dto';
import { waitOutSoldOutReads } from '../claims/sold-out-read-reuse';

export interface CreatedCouponView {
  name: string;
  amount: number;
  remaining_amount: number;
  created_at: string;
  /** Present only when the coupon was created with a sale window. */
  starts_at?: string | null;
  ends_at?: string | null;
}

export interface CouponView {
  name: string;
  amount: number;
  remaining_amount: number;
  claimed_by: string[];
}

/** The full coupon, for admins (updates and listings). */
export interface CouponDetailView {
  name: string;
  amount: number;
  remaining_amount: number;
  starts_at: string | null;
  ends_at: string | null;
  created_at: string;
  updated_at: string;
}

const toDetailView = (row: CouponRow): CouponDetailView => ({
  name: row.name,
  amount: row.amount,
  remaining_amount: row.remaining_amount,
  starts_at: row.starts_at?.toISOString() ?? null,
  ends_at: row.ends_at?.toISOString() ?? null,
  created_at: row.created_at.toISOString(),
  updated_at: row.updated_at.toISOString(),
});

const toDate = (value: string | null): Date | null => (value === null ? null : new Date(value));

const windowInvalid = () =>
  new DomainError('VALIDATION_FAILED', 'ends_at must be after starts_at', undefined, [
    { field: 'ends_at', problems: ['ends_at must be after starts_at'] },
  ]);

/** A window is valid when either bound is open or the end comes strictly after the start. */
const windowIsValid = (startsAt: Date | null, endsAt: Date | null) =>
  startsAt === null || endsAt === null || endsAt.getTime() > startsAt.getTime();

export interface HolderView {
  user_id: string;
  claimed_at: string;
}

export interface ClaimsPage {
  coupon_name: string;
  claims: HolderView[];
  next_cursor: string | null;
}

@Injectable()
export class CouponsService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly coupons: CouponsRepository,
    private readonly lock: LockService,
    private readonly idempotency: IdempotencyService,
    private readonly keys: IdempotencyKeysRepository,
  ) {}

  /**
   * Creates a coupon. With an Idempotency-Key (`keyed`): the 201 is kept under the key in the
   * coupon's transaction and COUPON_EXISTS right after it, so a retry gets the first answer again.
   */
  async create(
    name: string,
    amount: number,
    startsAt?: string,
    endsAt?: string,
    keyed?: { userId: string; idempotency: IdempotencyKey },
  ): Promise<CreatedCouponView | Replay> {
    if (!keyed) return this.insert(name, amount, startsAt, endsAt);
    const { userId, idempotency } = keyed;
    return this.idempotency.once(userId, idempotency, async () => {
      try {
        return await this.insert(name, amount, startsAt, endsAt, (transaction, view) =>
          this.keys.insert(transaction, [{ userId, ...idempotency, answer: { status: 201, body: view } }]),
        );
      } catch (error) {
        if (constraintOf(error) === KEY_TAKEN_CONSTRAINT) {
          // Another request of this key committed first: its answer.
          const replay = await this.idempotency.replayIfStored(userId, idempotency);
          if (replay) return replay;
          throw idempotencyKeyInUse();
        }
        if (error instanceof DomainError && error.code === 'COUPON_EXISTS') {
          // A refusal changes nothing: if keeping it fails, the retry is refused again. A key
          // taken meanwhile (the marker lapsed) answers with what it holds: the first 201.
          const taken = await this.idempotency.recordUnlessTaken({ userId, ...idempotency, answer: errorAnswer(error) }).catch(() => null);
          if (taken instanceof DomainError) throw taken;
          if (taken) return taken;
        }
        throw error;
      }
    });
  }

  private async insert(
    name: string,
    amount: number,
    startsAt: string | undefined,
    endsAt: string | undefined,
    alsoWrite?: (transaction: SqlRunner, view: CreatedCouponView) => Promise<void>,
  ): Promise<CreatedCouponView> {
    const window = { startsAt: startsAt ? new Date(startsAt) : null, endsAt: endsAt ? new Date(endsAt) : null };
    if (!windowIsValid(window.startsAt, window.endsAt)) throw windowInvalid();
    const toView = (coupon: CouponRow): CreatedCouponView => {
      const view: CreatedCouponView = {
        name: coupon.name,
        amount: coupon.amount,
        remaining_amount: coupon.remaining_amount,
        created_at: coupon.created_at.toISOString(),
      };
      // A coupon created without a window answers with the four keys of the original contract.
      if (startsAt !== undefined || endsAt !== undefined) {
        view.starts_at = window.startsAt?.toISOString() ?? null;
        view.ends_at = window.endsAt?.toISOString() ?? null;
      }
      return view;
    };
    try {
      const written = alsoWrite && ((transaction: SqlRunner, coupon: CouponRow) => alsoWrite(transaction, toView(coupon)));
      return toView(await this.coupons.insert(name, amount, window.startsAt, window.endsAt, written));
    } catch (error) {
      if (isUniqueViolation(error) && constraintOf(error) !== KEY_TAKEN_CONSTRAINT) {
        throw new DomainError('COUPON_EXISTS', `Coupon "${name}" already exists`);
      }
      throw error;
    }
  }

  /** The coupon and its holders in claim order. */
  async get(name: string): Promise<CouponView> {
    const row = await this.coupons.findWithHolders(name);
    if (!row) throw couponNotFound(name);
    return { name, amount: row.amount, remaining_amount: row.remaining_amount, claimed_by: row.claimed_by };
  }

  /** Every coupon, newest first (keyset pagination on the identity column). */
  async list(query: PageQueryDto): Promise<Page<CouponDetailView>> {
    const { afterId, limit } = pageParams(query);
    return toPage(await this.coupons.listNewestFirst(afterId, limit + 1), limit, toDetailView);
  }

  /**
   * Changes amount and/or window. The amount may go up or down, never below what is claimed.
   * Every process drops a remembered "sold out" (see CouponsRepository.update).
   */
  update(name: string, changes: UpdateCouponDto): Promise<CouponDetailView> {
    if (changes.amount === undefined && changes.starts_at === undefined && changes.ends_at === undefined) {
      throw new DomainError('VALIDATION_FAILED', 'Give at least one of amount, starts_at, ends_at');
    }
    const startsAt = changes.starts_at === undefined ? undefined : toDate(changes.starts_at);
    const endsAt = changes.ends_at === undefined ? undefined : toDate(changes.ends_at);
    return this.underLock(name, () =>
      this.coupons.update(name, (current) => {
        const claimed = current.amount - current.remaining_amount;
        const amount = changes.amount ?? current.amount;
        if (amount < claimed) {
          throw new DomainError('AMOUNT_BELOW_CLAIMED', `Coupon "${name}" has ${claimed} claims; its amount cannot go below that`);
        }
        const windowChanged = startsAt !== undefined || endsAt !== undefined;
        const window = {
          startsAt: startsAt === undefined ? current.starts_at : startsAt,
          endsAt: endsAt === undefined ? current.ends_at : endsAt,
        };
        if (windowChanged && !windowIsValid(window.startsAt, window.endsAt)) throw windowInvalid();
        return { amount, startsAt, endsAt };
      }),
    );
  }

  /** Ends the sale now (see CouponsRepository.close). */
  close(name: string): Promise<CouponDetailView> {
    return this.underLock(name, () => this.coupons.close(name));
  }

  /**
   * Runs an admin change under the coupon's claim lock (the repository holds the row FOR
   * UPDATE in one transaction): it never interleaves with a batch of claims, even past an
   * expired lease. After the commit it waits out the claims module's sold-out reads
   * (waitOutSoldOutReads) before answering, so that no process can still answer a claim sent
   * after this 200 from a stock read taken before the commit.
   */
  private async underLock(name: string, change: () => Promise<CouponRow | undefined>): Promise<CouponDetailView> {
    try {
      const { result } = await this.lock.withLock(couponLockResource(name), change);
      if (!result) throw couponNotFound(name);
      await waitOutSoldOutReads(this.config);
      return toDetailView(result);
    } catch (error) {
      // The database's own window check: only reachable with sub-millisecond bounds from a close.
      if (isCheckViolation(error)) throw windowInvalid();
      throw couponLockError(error, name) ?? error;
    }
  }

  /** One page of holders in claim order, after the cursor; for coupons too large for `get`. */
  async claimsPage(name: string, limit: number, after?: string): Promise<ClaimsPage> {
    const rows = await this.coupons.holdersAfter(name, after === undefined ? '0' : decodeCursor(after), limit + 1);
    if (!rows) throw couponNotFound(name);
    const page = toPage(rows, limit, (row): HolderView => ({ user_id: row.username, claimed_at: row.claimed_at.toISOString() }));
    return { coupon_name: name, claims: page.items, next_cursor: page.next_cursor };
  }
}
