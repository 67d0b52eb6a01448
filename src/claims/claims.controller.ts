import { Body, Controller, HttpCode, Post, Req, Res, UseGuards } from '@nestjs/common';
import { RouteConfig } from '@nestjs/platform-fastify';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AuthenticatedUser } from '../auth/authenticated-user';
import { CurrentUser } from '../auth/current-user.decorator';
import { JwtAuthGuard } from '../auth/jwt-auth.guard';
import { ApiErrors, TOKEN_ERRORS } from '../common/api-docs';
import { ApiIdempotentResponse, sendAnswer } from '../idempotency/idempotency-http';
import { CLAIM_FAST_PATH_ROUTE } from './claim-fast-path';
import { claimRequestOf } from './claim-request';
import { ClaimsService } from './claims.service';
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
    description:
      '200 means the claim is committed. Any other error means nothing changed; after CLAIM_OUTCOME_UNKNOWN a retry with the same key tells the truth. ' +
      'With an `Idempotency-Key`, a retry of a decided request (200, or a 409 refusal other than SALE_NOT_STARTED) gets the first answer again, ' +
      'with `Idempotent-Replayed: true`.',
  })
  @ApiIdempotentResponse(200, ClaimResponse)
  @ApiErrors(
    'VALIDATION_FAILED',
    ...TOKEN_ERRORS,
    'USER_MISMATCH',
    'COUPON_NOT_FOUND',
    'ALREADY_CLAIMED',
    'SOLD_OUT',
    'IDEMPOTENCY_KEY_IN_USE',
    'IDEMPOTENCY_KEY_REUSED',
    'SALE_NOT_STARTED',
    'SALE_ENDED',
    'PAYLOAD_TOO_LARGE',
    'LOCK_BUSY',
    'LOCK_UNAVAILABLE',
    'DATABASE_UNAVAILABLE',
    'CLAIM_OUTCOME_UNKNOWN',
    'TOO_MANY_REQUESTS',
  )
  async claim(
    @CurrentUser() user: AuthenticatedUser,
    @Body() body: ClaimCouponDto,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    sendAnswer(reply, 200, await this.claims.claim(claimRequestOf(user, body, request)));
  }
}
