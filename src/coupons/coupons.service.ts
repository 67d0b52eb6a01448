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
}
