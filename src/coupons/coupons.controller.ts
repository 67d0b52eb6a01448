import { Body, Controller, Get, HttpCode, Param, Patch, Post, Query, UseGuards } from '@nestjs/common';
import { JwtAuthGuard } from '../auth/jwt-auth.guard';
import { Roles } from '../auth/roles.decorator';
import { Page, PageQueryDto } from '../common/pagination';
import { CouponDetailView, CouponsService, CouponView, CreatedCouponView } from './coupons.service';
import { CouponNameParam } from './dto/coupon-name.param';
import { CreateCouponDto } from './dto/create-coupon.dto';
import { UpdateCouponDto } from './dto/update-coupon.dto';

@Controller('coupons')
@UseGuards(JwtAuthGuard)
export class CouponsController {
  constructor(private readonly coupons: CouponsService) {}

  @Post()
  @HttpCode(201)
  @Roles('admin')
  create(@Body() body: CreateCouponDto): Promise<CreatedCouponView> {
    return this.coupons.create(body.name, body.amount, body.starts_at, body.ends_at);
  }

  @Get()
  @Roles('admin')
  list(@Query() query: PageQueryDto): Promise<Page<CouponDetailView>> {
    return this.coupons.list(query);
  }

  @Get(':name')
  get(@Param() params: CouponNameParam): Promise<CouponView> {
    return this.coupons.get(params.name);
  }

  @Patch(':name')
  @Roles('admin')
  update(@Param() params: CouponNameParam, @Body() body: UpdateCouponDto): Promise<CouponDetailView> {
    return this.coupons.update(params.name, body);
  }

  @Post(':name/close')
  @HttpCode(200)
  @Roles('admin')
  close(@Param() params: CouponNameParam): Promise<CouponDetailView> {
    return this.coupons.close(params.name);
  }
}
