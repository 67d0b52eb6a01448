import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { isUniqueViolation } from '../common/database-errors';
import { DomainError, couponNotFound } from '../common/domain-error';
import { Coupon } from './coupon.entity';

export interface CreatedCouponView {
  name: string;
  amount: number;
  remaining_amount: number;
  created_at: string;
}

export interface CouponView {
  name: string;
  amount: number;
  remaining_amount: number;
  claimed_by: string[];
}

export interface HolderView {
  user_id: string;
  claimed_at: string;
}

export interface ClaimsPage {
  coupon_name: string;
  claims: HolderView[];
  next_cursor: string | null;
}

/** Cursors are opaque to clients: base64url of the last user_claims id (the claim order). */
const encodeCursor = (claimId: string) => Buffer.from(claimId, 'utf8').toString('base64url');

function decodeCursor(cursor: string): string {
  const claimId = Buffer.from(cursor, 'base64url').toString('utf8');
  // At most 18 digits: always inside bigint, so a forged cursor is a 400, not a database error.
  if (!/^[1-9][0-9]{0,17}$/.test(claimId)) {
    throw new DomainError('VALIDATION_FAILED', 'after must be a cursor returned by this endpoint');
  }
  return claimId;
}

@Injectable()
export class CouponsService {
  constructor(@InjectRepository(Coupon) private readonly coupons: Repository<Coupon>) {}

  async create(name: string, amount: number): Promise<CreatedCouponView> {
    try {
      const coupon = await this.coupons.save(this.coupons.create({ name, amount, remainingAmount: amount }));
      return {
        name: coupon.name,
        amount: coupon.amount,
        remaining_amount: coupon.remainingAmount,
        created_at: coupon.createdAt.toISOString(),
      };
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
