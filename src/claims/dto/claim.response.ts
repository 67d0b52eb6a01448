import { ApiProperty } from '@nestjs/swagger';
import type { ClaimView } from '../claims.service';

export class ClaimResponse implements ClaimView {
  @ApiProperty({ example: 'FLASH50' })
  coupon_name: string;

  @ApiProperty({ description: "The claimant's username", example: 'alice' })
  user_id: string;

  @ApiProperty({ format: 'date-time', example: '2026-11-23T09:00:00.123Z' })
  claimed_at: string;
}
