import { Controller, Get, Query, UseGuards } from '@nestjs/common';
import { AuthenticatedUser } from '../auth/authenticated-user';
import { CurrentUser } from '../auth/current-user.decorator';
import { JwtAuthGuard } from '../auth/jwt-auth.guard';
import { Page, PageQueryDto } from '../common/pagination';
import { HeldCouponView, UserClaimsService } from './user-claims.service';

@Controller('users/me/claims')
@UseGuards(JwtAuthGuard)
export class UserClaimsController {
  constructor(private readonly userClaims: UserClaimsService) {}

  @Get()
  list(@CurrentUser() user: AuthenticatedUser, @Query() query: PageQueryDto): Promise<Page<HeldCouponView>> {
    return this.userClaims.listHeld(user.id, query);
  }
}
