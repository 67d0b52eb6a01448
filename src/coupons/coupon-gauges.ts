import { Injectable, OnModuleInit } from '@nestjs/common';
import { MetricsService } from '../metrics/metrics.service';
import { CouponsRepository } from './coupons.repository';

/** The coupon gauges, read from the database at scrape time. */
@Injectable()
export class CouponGauges implements OnModuleInit {
  constructor(
    private readonly metrics: MetricsService,
    private readonly coupons: CouponsRepository,
  ) {}

  onModuleInit(): void {
    this.metrics.gaugeReadAtScrape('coupons_sold_out', 'Coupons whose remaining amount is 0 (read from the database at scrape time)', () =>
      this.coupons.countSoldOut(),
    );
    // One number, not one series per coupon: coupon names are unbounded label values.
    this.metrics.gaugeReadAtScrape(
      'coupons_remaining_amount',
      'Units left to claim across coupons whose sale window is open now (read from the database at scrape time)',
      () => this.coupons.remainingInOpenSales(),
    );
  }
}
