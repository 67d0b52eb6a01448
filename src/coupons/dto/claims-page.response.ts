import { ApiProperty } from '@nestjs/swagger';
import type { ClaimsPage, HolderView } from '../coupons.service';

export class HolderResponse implements HolderView {
  @ApiProperty({ description: "The holder's username", example: 'alice' })
  user_id: string;

  @ApiProperty({ format: 'date-time', example: '2026-11-23T09:00:00.123Z' })
  claimed_at: string;
}

export class ClaimsPageResponse implements ClaimsPage {
  @ApiProperty({ example: 'FLASH50' })
  coupon_name: string;

  @ApiProperty({ type: [HolderResponse], description: 'Holders in claim order' })
  claims: HolderResponse[];

  @ApiProperty({
    type: 'string',
    nullable: true,
    description: 'Pass as `after` for the next page; null on the last page',
    example: 'MTI0',
  })
  next_cursor: string | null;
}
