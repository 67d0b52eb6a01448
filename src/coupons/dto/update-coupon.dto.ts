import { IsInt, Max, Min, ValidateIf } from 'class-validator';
import { IsOffsetDateTime } from './sale-time.validator';

/** Every field optional; `null` removes a sale bound, an absent field leaves it as it is. */
export class UpdateCouponDto {
  @ValidateIf((dto: UpdateCouponDto) => dto.amount !== undefined)
  @IsInt({ message: 'amount must be an integer' })
  @Min(1)
  @Max(1_000_000)
  amount?: number;

  @ValidateIf((dto: UpdateCouponDto) => dto.starts_at !== undefined && dto.starts_at !== null)
  @IsOffsetDateTime()
  starts_at?: string | null;

  @ValidateIf((dto: UpdateCouponDto) => dto.ends_at !== undefined && dto.ends_at !== null)
  @IsOffsetDateTime()
  ends_at?: string | null;
}
