import { Body, Controller, Get, HttpCode, Param, Patch, Post, Query, Req, Res, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AuthenticatedUser } from '../auth/authenticated-user';
import { CurrentUser } from '../auth/current-user.decorator';
import { ApiErrors, TOKEN_ERRORS } from '../common/api-docs';
import { JwtAuthGuard } from '../auth/jwt-auth.guard';
import { Roles } from '../auth/roles.decorator';
import { Page, PageQueryDto } from '../common/pagination';
import { idempotencyKeyOf } from '../idempotency/idempotency-key';
import { ApiIdempotentResponse, sendAnswer } from '../idempotency/idempotency-http';
import { ClaimsPage, CouponDetailView, CouponsService, CouponView } from './coupons.service';
import { ClaimsPageQuery, DEFAULT_CLAIMS_PAGE } from './dto/claims-page.query';
import { ClaimsPageResponse } from './dto/claims-page.response';
import { CouponNameParam } from './dto/coupon-name.param';
import { CouponDetailResponse, CouponPageResponse, CouponResponse, CreatedCouponResponse } from './dto/coupon.response';
import { CreateCouponDto } from './dto/create-coupon.dto';
import { UpdateCouponDto } from './dto/update-coupon.dto';

@ApiTags('coupons')
@ApiBearerAuth()
@Controller('coupons')
@UseGuards(JwtAuthGuard)
export class CouponsController {
  constructor(private readonly coupons: CouponsService) {}

  @Post()
  @HttpCode(201)
  @Roles('admin')
  @ApiOperation({
    operationId: 'createCoupon',
    summary: 'Create a coupon (admin only)',
    description: 'With an `Idempotency-Key`, a retry gets the first answer (201 or COUPON_EXISTS) again, with `Idempotent-Replayed: true`.',
  })
  @ApiIdempotentResponse(201, CreatedCouponResponse)
  @ApiErrors(
    'VALIDATION_FAILED',
    ...TOKEN_ERRORS,
    'FORBIDDEN',
    'COUPON_EXISTS',
    'IDEMPOTENCY_KEY_IN_USE',
    'IDEMPOTENCY_KEY_REUSED',
    'PAYLOAD_TOO_LARGE',
    'DATABASE_UNAVAILABLE',
  )
  async create(
    @CurrentUser() user: AuthenticatedUser,
    @Body() body: CreateCouponDto,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const idempotency = idempotencyKeyOf(request.headers, 'POST /api/coupons', [
      body.name,
      body.amount,
      body.starts_at ?? null,
      body.ends_at ?? null,
    ]);
    const keyed = idempotency && { userId: user.id, idempotency };
    sendAnswer(reply, 201, await this.coupons.create(body.name, body.amount, body.starts_at, body.ends_at, keyed));
  }

  @Get()
  @Roles('admin')
  @ApiOperation({ operationId: 'listCoupons', summary: 'Every coupon, newest first, one page at a time (admin only)' })
  @ApiOkResponse({ type: CouponPageResponse })
  @ApiErrors('VALIDATION_FAILED', ...TOKEN_ERRORS, 'FORBIDDEN', 'DATABASE_UNAVAILABLE')
  list(@Query() query: PageQueryDto): Promise<Page<CouponDetailView>> {
    return this.coupons.list(query);
  }

  @Get(':name')
  @ApiOperation({
    operationId: 'getCoupon',
    summary: 'A coupon with every holder',
    description:
      '`claimed_by` lists all holders in claim order. Past about 10,000 holders the answer grows beyond ' +
      'a few hundred kilobytes; use `GET /api/coupons/{name}/claims` to page through them instead.',
  })
  @ApiOkResponse({ type: CouponResponse })
  @ApiErrors('VALIDATION_FAILED', ...TOKEN_ERRORS, 'COUPON_NOT_FOUND', 'DATABASE_UNAVAILABLE')
  get(@Param() params: CouponNameParam): Promise<CouponView> {
    return this.coupons.get(params.name);
  }

  @Patch(':name')
  @Roles('admin')
  @ApiOperation({ operationId: 'updateCoupon', summary: 'Change amount and/or sale window (admin only), under the claim lock' })
  @ApiOkResponse({ type: CouponDetailResponse })
  @ApiErrors(
    'VALIDATION_FAILED',
    ...TOKEN_ERRORS,
    'FORBIDDEN',
    'COUPON_NOT_FOUND',
    'AMOUNT_BELOW_CLAIMED',
    'PAYLOAD_TOO_LARGE',
    'LOCK_BUSY',
    'LOCK_UNAVAILABLE',
    'DATABASE_UNAVAILABLE',
  )
  update(@Param() params: CouponNameParam, @Body() body: UpdateCouponDto): Promise<CouponDetailView> {
    return this.coupons.update(params.name, body);
  }

  @Post(':name/close')
  @HttpCode(200)
  @Roles('admin')
  @ApiOperation({ operationId: 'closeCouponSale', summary: 'End the sale now (admin only), by the database clock' })
  @ApiOkResponse({ type: CouponDetailResponse })
  @ApiErrors('VALIDATION_FAILED', ...TOKEN_ERRORS, 'FORBIDDEN', 'COUPON_NOT_FOUND', 'LOCK_BUSY', 'LOCK_UNAVAILABLE', 'DATABASE_UNAVAILABLE')
  close(@Param() params: CouponNameParam): Promise<CouponDetailView> {
    return this.coupons.close(params.name);
  }

  @Get(':name/claims')
  @ApiOperation({
    operationId: 'listCouponHolders',
    summary: 'Holders of a coupon, one page at a time, in claim order',
    description: 'Follow `next_cursor` (as `after`) until it is null. Claims made meanwhile appear on later pages.',
  })
  @ApiOkResponse({ type: ClaimsPageResponse })
  @ApiErrors('VALIDATION_FAILED', ...TOKEN_ERRORS, 'COUPON_NOT_FOUND', 'DATABASE_UNAVAILABLE')
  claims(@Param() params: CouponNameParam, @Query() query: ClaimsPageQuery): Promise<ClaimsPage> {
    const limit = query.limit === undefined ? DEFAULT_CLAIMS_PAGE : Number(query.limit);
    return this.coupons.claimsPage(params.name, limit, query.after);
  }
}
