import { ApiProperty } from '@nestjs/swagger';
import type { CouponView, CreatedCouponView } from '../coupons.service';

export class CreatedCouponResponse implements CreatedCouponView {
  @ApiProperty({ example: 'FLASH50' })
  name: string;

  @ApiProperty({ example: 50 })
  amount: number;

  @ApiProperty({ example: 50 })
  remaining_amount: number;

  @ApiProperty({ format: 'date-time', example: '2026-11-23T09:00:00.000Z' })
  created_at: string;
}

export class CouponResponse implements CouponView {
  @ApiProperty({ example: 'FLASH50' })
  name: string;

  @ApiProperty({ example: 50 })
  amount: number;

  @ApiProperty({ example: 48 })
  remaining_amount: number;

  @ApiProperty({
    type: [String],
    description: 'Usernames of the holders in claim order, all of them (see GET /api/coupons/{name}/claims for pages)',
    example: ['alice', 'bob'],
  })
  claimed_by: string[];
}
