import { Body, Controller, HttpCode, Post, Req, UseGuards } from '@nestjs/common';
import { RouteConfig } from '@nestjs/platform-fastify';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AuthenticatedUser } from '../auth/authenticated-user';
import { CurrentUser } from '../auth/current-user.decorator';
import { JwtAuthGuard } from '../auth/jwt-auth.guard';
import { ApiErrors, TOKEN_ERRORS } from '../common/api-docs';
import { requestLogFields } from '../logging/request-logging';
import { CLAIM_FAST_PATH_ROUTE } from './claim-fast-path';
import { ClaimsService, ClaimView } from './claims.service';
import { ClaimCouponDto } from './dto/claim-coupon.dto';
import { ClaimResponse } from './dto/claim.response';

@ApiTags('coupons')
@ApiBearerAuth()
@Controller('coupons')
@UseGuards(JwtAuthGuard)
export class ClaimsController {
  constructor(private readonly claims: ClaimsService) {}

  @Post('claim')
  @HttpCode(200)
  @RouteConfig(CLAIM_FAST_PATH_ROUTE)
  @ApiOperation({
    operationId: 'claimCoupon',
    summary: 'Claim one unit of a coupon for the token holder',
    description: '200 means the claim is committed; any error means nothing changed. 503 answers are safe to retry.',
  })
  @ApiOkResponse({ type: ClaimResponse })
  @ApiErrors(
    'VALIDATION_FAILED',
    ...TOKEN_ERRORS,
    'USER_MISMATCH',
    'COUPON_NOT_FOUND',
    'ALREADY_CLAIMED',
    'SOLD_OUT',
    'SALE_NOT_STARTED',
    'SALE_ENDED',
    'PAYLOAD_TOO_LARGE',
    'LOCK_BUSY',
    'LOCK_UNAVAILABLE',
    'DATABASE_UNAVAILABLE',
    'TOO_MANY_REQUESTS',
  )
  claim(@CurrentUser() user: AuthenticatedUser, @Body() body: ClaimCouponDto, @Req() request: object): Promise<ClaimView> {
    return this.claims.claim(user, body.coupon_name, body.user_id, requestLogFields(request));
  }
}
