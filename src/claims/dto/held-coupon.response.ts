import { ApiProperty } from '@nestjs/swagger';
import { PageResponse } from '../../common/pagination';
import type { HeldCouponView } from '../user-claims.service';

export class HeldCouponResponse implements HeldCouponView {
  @ApiProperty({ example: 'FLASH50' })
  coupon_name: string;

  @ApiProperty({ format: 'date-time', example: '2026-11-23T09:00:01.234Z' })
  claimed_at: string;
}

export class HeldCouponPageResponse extends PageResponse(HeldCouponResponse, 'Mw') {}
