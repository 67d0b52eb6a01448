import { Injectable } from '@nestjs/common';
import { Page, PageQueryDto, pageParams, toPage } from '../common/pagination';
import { ClaimReadsRepository } from './claim-reads.repository';

export interface HeldCouponView {
  coupon_name: string;
  claimed_at: string;
}

/** A user's own claims: a read model beside the claim path. */
@Injectable()
export class UserClaimsService {
  constructor(private readonly claims: ClaimReadsRepository) {}

  /** The coupons a user holds, newest claim first (keyset pagination on the claim id). */
  async listHeld(userId: string, query: PageQueryDto): Promise<Page<HeldCouponView>> {
    const { afterId, limit } = pageParams(query);
    const rows = await this.claims.heldBy(userId, afterId, limit + 1);
    return toPage(rows, limit, (row) => ({ coupon_name: row.coupon_name, claimed_at: row.claimed_at.toISOString() }));
  }
}
