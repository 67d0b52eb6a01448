import { Body, Controller, Get, HttpCode, Param, Post, UseGuards } from '@nestjs/common';
import { JwtAuthGuard } from '../auth/jwt-auth.guard';
import { Roles } from '../auth/roles.decorator';
import { CouponsService, CouponView, CreatedCouponView } from './coupons.service';
import { CouponNameParam } from './dto/coupon-name.param';
import { CreateCouponDto } from './dto/create-coupon.dto';

@Controller('coupons')
@UseGuards(JwtAuthGuard)
export class CouponsController {
  constructor(private readonly coupons: CouponsService) {}

  @Post()
  @HttpCode(201)
  @Roles('admin')
  create(@Body() body: CreateCouponDto): Promise<CreatedCouponView> {
    return this.coupons.create(body.name, body.amount);
  }

  @Get(':name')
  get(@Param() params: CouponNameParam): Promise<CouponView> {
    return this.coupons.get(params.name);
  }
}
