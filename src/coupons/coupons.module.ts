import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuthModule } from '../auth/auth.module';
import { IdempotencyModule } from '../idempotency/idempotency.module';
import { LockModule } from '../lock/lock.module';
import { MetricsModule } from '../metrics/metrics.module';
import { Coupon } from './coupon.entity';
import { CouponGauges } from './coupon-gauges';
import { CouponsController } from './coupons.controller';
import { CouponsRepository } from './coupons.repository';
import { CouponsService } from './coupons.service';

@Module({
  imports: [TypeOrmModule.forFeature([Coupon]), AuthModule, LockModule, MetricsModule, IdempotencyModule],
  controllers: [CouponsController],
  providers: [CouponsService, CouponsRepository, CouponGauges],
})
export class CouponsModule {}
