import { ApiProperty } from '@nestjs/swagger';
import type { Page } from '../../common/pagination';
import type { HeldCouponView } from '../user-claims.service';

export class HeldCouponResponse implements HeldCouponView {
  @ApiProperty({ example: 'FLASH50' })
  coupon_name: string;

  @ApiProperty({ format: 'date-time', example: '2026-11-23T09:00:01.234Z' })
  claimed_at: string;
}

export class HeldCouponPageResponse implements Page<HeldCouponView> {
  @ApiProperty({ type: [HeldCouponResponse] })
  items: HeldCouponView[];

  @ApiProperty({ type: String, nullable: true, description: 'Pass as `after` for the next page; null on the last page', example: 'Mw' })
  next_cursor: string | null;
}
