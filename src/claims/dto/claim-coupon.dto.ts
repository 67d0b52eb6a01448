import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, Matches } from 'class-validator';
import { ValidatedOncePerBody } from '../../common/validation.pipe';

@ValidatedOncePerBody()
export class ClaimCouponDto {
  @ApiProperty({ pattern: '^[A-Za-z0-9_-]{1,64}$', example: 'FLASH50' })
  @IsString()
  @Matches(/^[A-Za-z0-9_-]{1,64}$/, { message: 'coupon_name must be 1-64 characters of [A-Za-z0-9_-]' })
  coupon_name: string;

  /** The claimant's username; optional, and if given it must be the token's user. */
  @ApiPropertyOptional({ description: "If given, must equal the token holder's username", example: 'alice' })
  @IsOptional()
  @IsString()
  user_id?: string;
}
