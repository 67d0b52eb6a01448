import { ApiProperty } from '@nestjs/swagger';
import { IsInt, IsOptional, IsString, Max, Min } from 'class-validator';
import { COUPON_NAME_PATTERN, IsCouponName } from '../../common/identifiers';
import { IsOffsetDateTime } from './sale-time.validator';

export class CreateCouponDto {
  @ApiProperty({ pattern: COUPON_NAME_PATTERN.source, example: 'FLASH50', description: 'Case-sensitive' })
  @IsString()
  @IsCouponName()
  name: string;

  @ApiProperty({ type: 'integer', minimum: 1, maximum: 1_000_000, example: 50 })
  @IsInt({ message: 'amount must be an integer' })
  @Min(1)
  @Max(1_000_000)
  amount: number;

  /** Optional sale window; without it the coupon is always open. */
  @IsOptional()
  @IsOffsetDateTime()
  starts_at?: string;

  @IsOptional()
  @IsOffsetDateTime()
  ends_at?: string;
}
