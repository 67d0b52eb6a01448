import { ApiProperty } from '@nestjs/swagger';
import { PageResponse } from '../../common/pagination';
import type { CouponDetailView, CouponView, CreatedCouponView } from '../coupons.service';

/** What every coupon answer starts with. */
class CouponStock {
  @ApiProperty({ example: 'FLASH50' })
  name: string;

  @ApiProperty({ example: 50 })
  amount: number;

  @ApiProperty({ example: 48 })
  remaining_amount: number;
}

export class CreatedCouponResponse extends CouponStock implements CreatedCouponView {
  @ApiProperty({ format: 'date-time', example: '2026-11-23T09:00:00.000Z' })
  created_at: string;
}

export class CouponResponse extends CouponStock implements CouponView {
  @ApiProperty({
    type: [String],
    description: 'Usernames of the holders in claim order, all of them (see GET /api/coupons/{name}/claims for pages)',
    example: ['alice', 'bob'],
  })
  claimed_by: string[];
}

export class CouponDetailResponse extends CouponStock implements CouponDetailView {
  @ApiProperty({ type: String, format: 'date-time', nullable: true, example: '2026-12-01T11:00:00.000Z' })
  starts_at: string | null;

  @ApiProperty({ type: String, format: 'date-time', nullable: true, example: null })
  ends_at: string | null;

  @ApiProperty({ format: 'date-time', example: '2026-11-23T09:00:00.000Z' })
  created_at: string;

  @ApiProperty({ format: 'date-time', example: '2026-11-23T09:05:00.000Z' })
  updated_at: string;
}

export class CouponPageResponse extends PageResponse(CouponDetailResponse, 'MTI') {}
