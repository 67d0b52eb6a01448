import { Inject, Injectable } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import { InjectRepository } from '@nestjs/typeorm';
import { EntityManager, Repository } from 'typeorm';
import { isCheckViolation, isUniqueViolation } from '../common/database-errors';
import { DomainError, couponNotFound } from '../common/domain-error';
import { Page, PageQueryDto, decodeCursor, encodeCursor, pageParams, toPage } from '../common/pagination';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { couponLockError, couponLockResource } from '../lock/coupon-lock';
import { LockService } from '../lock/lock.service';
import { Coupon } from './coupon.entity';
import { UpdateCouponDto } from './dto/update-coupon.dto';

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

interface CouponRow {
  id: string;
  name: string;
  amount: number;
  remaining_amount: number;
  starts_at: Date | null;
  ends_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

const COUPON_COLUMNS = 'id, name, amount, remaining_amount, starts_at, ends_at, created_at, updated_at';

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
    @InjectRepository(Coupon) private readonly coupons: Repository<Coupon>,
    private readonly lock: LockService,
  ) {}

  async create(name: string, amount: number, startsAt?: string, endsAt?: string): Promise<CreatedCouponView> {
    const window = { startsAt: startsAt ? new Date(startsAt) : null, endsAt: endsAt ? new Date(endsAt) : null };
    if (!windowIsValid(window.startsAt, window.endsAt)) throw windowInvalid();
    try {
      const coupon = await this.coupons.save(
        this.coupons.create({ name, amount, remainingAmount: amount, ...window }),
      );
      const view: CreatedCouponView = {
        name: coupon.name,
        amount: coupon.amount,
        remaining_amount: coupon.remainingAmount,
        created_at: coupon.createdAt.toISOString(),
      };
      // The seed's four keys stay exactly as they were for coupons without a window.
      if (startsAt !== undefined || endsAt !== undefined) {
        view.starts_at = window.startsAt?.toISOString() ?? null;
        view.ends_at = window.endsAt?.toISOString() ?? null;
      }
      return view;
    } catch (error) {
      if (isUniqueViolation(error)) throw new DomainError('COUPON_EXISTS', `Coupon "${name}" already exists`);
      throw error;
    }
  }

  /** The coupon and its holders in claim order, read in one statement so both agree. */
  async get(name: string): Promise<CouponView> {
    const rows: { amount: number; remaining_amount: number; claimed_by: string[] }[] = await this.coupons.query(
      `SELECT c.amount, c.remaining_amount,
              COALESCE(ARRAY(SELECT u.username FROM user_claims uc JOIN users u ON u.id = uc.user_id
                             WHERE uc.coupon_id = c.id ORDER BY uc.id), '{}') AS claimed_by
         FROM coupons c WHERE c.name = $1`,
      [name],
    );
    if (rows.length === 0) throw couponNotFound(name);
    const [row] = rows;
    return { name, amount: row.amount, remaining_amount: row.remaining_amount, claimed_by: row.claimed_by };
  }

  /** Every coupon, newest first (keyset pagination on the identity column). */
  async list(query: PageQueryDto): Promise<Page<CouponDetailView>> {
    const { afterId, limit } = pageParams(query);
    const rows: CouponRow[] = await this.coupons.query(
      `SELECT ${COUPON_COLUMNS} FROM coupons
        WHERE $1::bigint IS NULL OR id < $1::bigint
        ORDER BY id DESC LIMIT $2`,
      [afterId, limit + 1],
    );
    return toPage(rows, limit, toDetailView);
  }

  /**
   * Changes amount and/or window. The amount may go up or down, never below what is claimed;
   * remaining_amount follows as amount - claimed. Bumps stock_version so every process drops
   * a remembered "sold out" (see ClaimsService).
   */
  update(name: string, changes: UpdateCouponDto): Promise<CouponDetailView> {
    if (changes.amount === undefined && changes.starts_at === undefined && changes.ends_at === undefined) {
      throw new DomainError('VALIDATION_FAILED', 'Give at least one of amount, starts_at, ends_at');
    }
    return this.underLock(name, async (em, current) => {
      const claimed = current.amount - current.remaining_amount;
      const amount = changes.amount ?? current.amount;
      if (amount < claimed) {
        throw new DomainError(
          'AMOUNT_BELOW_CLAIMED',
          `Coupon "${name}" has ${claimed} claims; its amount cannot go below that`,
        );
      }
      const windowChanged = changes.starts_at !== undefined || changes.ends_at !== undefined;
      const startsAt = changes.starts_at === undefined ? current.starts_at : toDate(changes.starts_at);
      const endsAt = changes.ends_at === undefined ? current.ends_at : toDate(changes.ends_at);
      if (windowChanged && !windowIsValid(startsAt, endsAt)) throw windowInvalid();
      // Bounds not named in the request are left alone in SQL: rewriting them from JS would
      // round a closed sale's microsecond bounds to milliseconds.
      const [rows]: [CouponRow[], number] = await em.query(
        `UPDATE coupons
            SET amount = $2, remaining_amount = $2 - (amount - remaining_amount),
                starts_at = CASE WHEN $5 THEN $3::timestamptz ELSE starts_at END,
                ends_at = CASE WHEN $6 THEN $4::timestamptz ELSE ends_at END,
                stock_version = stock_version + 1, updated_at = now()
          WHERE id = $1
          RETURNING ${COUPON_COLUMNS}`,
        [current.id, amount, startsAt, endsAt, changes.starts_at !== undefined, changes.ends_at !== undefined],
      );
      return rows[0];
    });
  }

  /**
   * Ends the sale now, by the database clock that claims are judged by. A sale that has not
   * started gets an empty window (start = end = now); one that already ended keeps its end.
   */
  close(name: string): Promise<CouponDetailView> {
    return this.underLock(name, async (em, current) => {
      const [rows]: [CouponRow[], number] = await em.query(
        `UPDATE coupons c
            SET ends_at = LEAST(COALESCE(c.ends_at, t.now), t.now),
                starts_at = LEAST(c.starts_at, t.now),
                stock_version = c.stock_version + 1, updated_at = now()
           FROM (SELECT clock_timestamp() AS now) t
          WHERE c.id = $1
          RETURNING ${COUPON_COLUMNS.split(', ').map((column) => `c.${column}`).join(', ')}`,
        [current.id],
      );
      return rows[0];
    });
  }

  /**
   * Runs an admin change under the coupon's claim lock and inside one transaction holding its
   * row FOR UPDATE: it never interleaves with a batch of claims, even past an expired lease.
   * After the commit it waits SOLD_OUT_READ_REUSE_MS before answering, so that no process can
   * still answer a claim sent after this 200 from a stock read taken before the commit.
   */
  private async underLock(
    name: string,
    change: (em: EntityManager, current: CouponRow) => Promise<CouponRow>,
  ): Promise<CouponDetailView> {
    try {
      const { result } = await this.lock.withLock(couponLockResource(name), () =>
        this.coupons.manager.transaction(async (em) => {
          const rows: CouponRow[] = await em.query(
            `SELECT ${COUPON_COLUMNS} FROM coupons WHERE name = $1 FOR UPDATE`,
            [name],
          );
          if (rows.length === 0) throw couponNotFound(name);
          return change(em, rows[0]);
        }),
      );
      // A few ms over: a timer may fire a millisecond early, and hosts' clocks differ slightly in rate.
      if (this.config.SOLD_OUT_READ_REUSE_MS > 0) await sleep(this.config.SOLD_OUT_READ_REUSE_MS + 5);
      return toDetailView(result);
    } catch (error) {
      // The database's own window check: only reachable with sub-millisecond bounds from a close.
      if (isCheckViolation(error)) throw windowInvalid();
      throw couponLockError(error, name) ?? error;
    }
  }

  /** One page of holders in claim order, after the cursor; for coupons too large for `get`. */
  async claimsPage(name: string, limit: number, after?: string): Promise<ClaimsPage> {
    const afterId = after === undefined ? '0' : decodeCursor(after);
    // One statement: the coupon row tells "unknown coupon" from "no claims past the cursor".
    const rows: { claim_id: string | null; username: string | null; claimed_at: Date | null }[] = await this.coupons.query(
      `SELECT page.id AS claim_id, u.username, page.claimed_at
         FROM coupons c
         LEFT JOIN LATERAL (SELECT uc.id, uc.user_id, uc.claimed_at FROM user_claims uc
                             WHERE uc.coupon_id = c.id AND uc.id > $2
                             ORDER BY uc.id LIMIT $3) page ON true
         LEFT JOIN users u ON u.id = page.user_id
        WHERE c.name = $1
        ORDER BY page.id`,
      [name, afterId, limit + 1],
    );
    if (rows.length === 0) throw couponNotFound(name);
    const found = rows.filter((row) => row.claim_id !== null);
    const page = found.slice(0, limit);
    return {
      coupon_name: name,
      claims: page.map((row) => ({ user_id: row.username!, claimed_at: row.claimed_at!.toISOString() })),
      next_cursor: found.length > limit ? encodeCursor(String(page[page.length - 1].claim_id)) : null,
    };
  }
}
