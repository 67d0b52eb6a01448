import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString } from 'class-validator';
import { COUPON_NAME_PATTERN, IsCouponName } from '../../common/identifiers';
import { ValidatedOncePerBody } from '../../common/validation.pipe';

@ValidatedOncePerBody()
export class ClaimCouponDto {
  @ApiProperty({ pattern: COUPON_NAME_PATTERN.source, example: 'FLASH50' })
  @IsString()
  @IsCouponName()
  coupon_name: string;

  /** The claimant's username; optional, and if given it must be the token's user. */
  @ApiPropertyOptional({ description: "If given, must equal the token holder's username", example: 'alice' })
  @IsOptional()
  @IsString()
  user_id?: string;
}
