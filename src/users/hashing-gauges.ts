import { Injectable, OnModuleInit } from '@nestjs/common';
import { MetricsService } from '../metrics/metrics.service';
import { PasswordHasher } from './password-hasher';

/** The password-hashing queue's gauges, read at scrape time: how long the line is and how fast it drains. */
@Injectable()
export class HashingGauges implements OnModuleInit {
  constructor(
    private readonly metrics: MetricsService,
    private readonly hasher: PasswordHasher,
  ) {}

  onModuleInit(): void {
    this.metrics.gaugeReadAtScrape('password_hashing_waiting', 'Logins and registrations of this process waiting for a password hash', () =>
      Promise.resolve(this.hasher.line.waiting),
    );
    this.metrics.gaugeReadAtScrape(
      'password_hashing_drain_per_second',
      'Password hashes this process finishes per second at the measured hash time (the rate AUTH_BUSY Retry-After values are computed from)',
      () => Promise.resolve(this.hasher.line.drainPerSecond),
    );
  }
}
