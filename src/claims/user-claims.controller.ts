import { Controller, Get, Query, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiErrors, TOKEN_ERRORS } from '../common/api-docs';
import { HeldCouponPageResponse } from './dto/held-coupon.response';
import { AuthenticatedUser } from '../auth/authenticated-user';
import { CurrentUser } from '../auth/current-user.decorator';
import { JwtAuthGuard } from '../auth/jwt-auth.guard';
import { Page, PageQueryDto } from '../common/pagination';
import { HeldCouponView, UserClaimsService } from './user-claims.service';

@ApiTags('users')
@ApiBearerAuth()
@Controller('users/me/claims')
@UseGuards(JwtAuthGuard)
export class UserClaimsController {
  constructor(private readonly userClaims: UserClaimsService) {}

  @Get()
  @ApiOperation({ operationId: 'listMyCoupons', summary: 'The coupons the caller holds, newest claim first, one page at a time' })
  @ApiOkResponse({ type: HeldCouponPageResponse })
  @ApiErrors('VALIDATION_FAILED', ...TOKEN_ERRORS, 'DATABASE_UNAVAILABLE')
  list(@CurrentUser() user: AuthenticatedUser, @Query() query: PageQueryDto): Promise<Page<HeldCouponView>> {
    return this.userClaims.listHeld(user.id, query);
  }
}
