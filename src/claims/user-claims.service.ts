import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { Page, PageQueryDto, pageParams, toPage } from '../common/pagination';

export interface HeldCouponView {
  coupon_name: string;
  claimed_at: string;
}

/** A user's own claims: a read model, kept apart from the claim path's hot SQL. */
@Injectable()
export class UserClaimsService {
  constructor(private readonly dataSource: DataSource) {}

  /** The coupons a user holds, newest claim first (keyset pagination on the claim id). */
  async listHeld(userId: string, query: PageQueryDto): Promise<Page<HeldCouponView>> {
    const { afterId, limit } = pageParams(query);
    const rows: { id: string; coupon_name: string; claimed_at: Date }[] = await this.dataSource.query(
      `SELECT uc.id, c.name AS coupon_name, uc.claimed_at
         FROM user_claims uc JOIN coupons c ON c.id = uc.coupon_id
        WHERE uc.user_id = $1 AND ($2::bigint IS NULL OR uc.id < $2::bigint)
        ORDER BY uc.id DESC LIMIT $3`,
      [userId, afterId, limit + 1],
    );
    return toPage(rows, limit, (row) => ({ coupon_name: row.coupon_name, claimed_at: row.claimed_at.toISOString() }));
  }
}
