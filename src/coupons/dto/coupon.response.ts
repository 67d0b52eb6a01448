import { ApiProperty } from '@nestjs/swagger';
import type { Page } from '../../common/pagination';
import type { CouponDetailView, CouponView, CreatedCouponView } from '../coupons.service';

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

export class CouponDetailResponse implements CouponDetailView {
  @ApiProperty({ example: 'FLASH50' })
  name: string;

  @ApiProperty({ example: 50 })
  amount: number;

  @ApiProperty({ example: 48 })
  remaining_amount: number;

  @ApiProperty({ type: String, format: 'date-time', nullable: true, example: '2026-12-01T11:00:00.000Z' })
  starts_at: string | null;

  @ApiProperty({ type: String, format: 'date-time', nullable: true, example: null })
  ends_at: string | null;

  @ApiProperty({ format: 'date-time', example: '2026-11-23T09:00:00.000Z' })
  created_at: string;

  @ApiProperty({ format: 'date-time', example: '2026-11-23T09:05:00.000Z' })
  updated_at: string;
}

export class CouponPageResponse implements Page<CouponDetailView> {
  @ApiProperty({ type: [CouponDetailResponse] })
  items: CouponDetailView[];

  @ApiProperty({ type: String, nullable: true, description: 'Pass as `after` for the next page; null on the last page', example: 'MTI' })
  next_cursor: string | null;
}
