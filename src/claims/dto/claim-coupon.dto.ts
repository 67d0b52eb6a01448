import { IsOptional, IsString, Matches } from 'class-validator';

export class ClaimCouponDto {
  @IsString()
  @Matches(/^[A-Za-z0-9_-]{1,64}$/, { message: 'coupon_name must be 1-64 characters of [A-Za-z0-9_-]' })
  coupon_name: string;

  /** The claimant's username; optional, and if given it must be the token's user. */
  @IsOptional()
  @IsString()
  user_id?: string;
}
