import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsInt, IsOptional, IsString, Matches, Max, Min } from 'class-validator';
import { IsOffsetDateTime } from './sale-time.validator';

export class CreateCouponDto {
  @ApiProperty({ pattern: '^[A-Za-z0-9_-]{1,64}$', example: 'FLASH50', description: 'Case-sensitive' })
  @IsString()
  @Matches(/^[A-Za-z0-9_-]{1,64}$/, { message: 'name must be 1-64 characters of [A-Za-z0-9_-]' })
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
