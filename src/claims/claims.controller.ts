import { Body, Controller, HttpCode, Post, UseGuards } from '@nestjs/common';
import { AuthenticatedUser } from '../auth/authenticated-user';
import { CurrentUser } from '../auth/current-user.decorator';
import { JwtAuthGuard } from '../auth/jwt-auth.guard';
import { RateLimitGuard, RateLimited } from '../rate-limit/rate-limit.guard';
import { ClaimsService, ClaimView } from './claims.service';
import { ClaimCouponDto } from './dto/claim-coupon.dto';

@Controller('coupons')
@UseGuards(JwtAuthGuard)
export class ClaimsController {
  constructor(private readonly claims: ClaimsService) {}

  @Post('claim')
  @HttpCode(200)
  // After the class's JwtAuthGuard: the limit is per authenticated user.
  @UseGuards(RateLimitGuard)
  @RateLimited('claim')
  claim(@CurrentUser() user: AuthenticatedUser, @Body() body: ClaimCouponDto): Promise<ClaimView> {
    return this.claims.claim(user, body.coupon_name, body.user_id);
  }
}
