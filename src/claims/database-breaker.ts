import { Inject, Injectable, Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { databaseAnswers } from '../common/database-ping';
import { databaseUnavailable } from '../common/domain-error';
import { APP_CONFIG, AppConfig } from '../config/app-config';

/**
 * Cut off from PostgreSQL but not from Redis, this process would take coupon leases and hold
 * them through a query timeout, keeping every other process from those coupons: after a lost
 * database (`trip`), a batch asks it first (within HEALTH_TIMEOUT_MS) and answers 503 if it is
 * silent; the first answer closes the breaker again.
 */
@Injectable()
export class DatabaseBreaker {
  private readonly logger = new Logger(DatabaseBreaker.name);
  /** A batch lost the database and none has reached it since. */
  private lost = false;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly dataSource: DataSource,
  ) {}

  /** Whether a batch must call `confirmReachable` before it takes coupon locks. */
  get tripped(): boolean {
    return this.lost;
  }

  /** A claim met a database failure (or an unknown commit): the next batch asks first. */
  trip(): void {
    this.lost = true;
  }

  /** Resolves once the database answers; DATABASE_UNAVAILABLE if it stays silent. */
  async confirmReachable(): Promise<void> {
    if (!(await databaseAnswers(this.dataSource, this.config.HEALTH_TIMEOUT_MS))) {
      this.logger.warn('claims refused: the database still does not answer');
      throw databaseUnavailable();
    }
    this.lost = false;
  }
}
