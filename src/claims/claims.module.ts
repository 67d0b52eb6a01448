import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { IdempotencyModule } from '../idempotency/idempotency.module';
import { LockModule } from '../lock/lock.module';
import { MetricsModule } from '../metrics/metrics.module';
import { RateLimitModule } from '../rate-limit/rate-limit.module';
import { ClaimFastPath } from './claim-fast-path';
import { ClaimOrchestrator } from './claim-orchestrator';
import { ClaimReadsRepository } from './claim-reads.repository';
import { ClaimSettlement } from './claim-settlement';
import { ClaimsController } from './claims.controller';
import { ClaimsRepository } from './claims.repository';
import { ClaimsService } from './claims.service';
import { CommitConfirmation } from './commit-confirmation';
import { DatabaseBreaker } from './database-breaker';
import { SoldOutMemory } from './sold-out-memory';
import { soldOutReadReuseMs } from './sold-out-read-reuse';
import { UserClaimsController } from './user-claims.controller';
import { UserClaimsService } from './user-claims.service';

/** One sold-out memory per process: the settlement remembers sell-outs, both entry points ask it. */
const soldOutMemoryProvider = {
  provide: SoldOutMemory,
  inject: [ClaimReadsRepository, APP_CONFIG],
  useFactory: (reads: ClaimReadsRepository, config: AppConfig) =>
    new SoldOutMemory(reads, {
      reuseMs: soldOutReadReuseMs(config),
      maxCoupons: config.SOLD_OUT_MEMORY_MAX_COUPONS,
      maxHolders: config.SOLD_OUT_MEMORY_MAX_HOLDERS,
    }),
};

@Module({
  imports: [AuthModule, LockModule, RateLimitModule, MetricsModule, IdempotencyModule],
  controllers: [ClaimsController, UserClaimsController],
  providers: [
    ClaimsService,
    ClaimOrchestrator,
    ClaimSettlement,
    DatabaseBreaker,
    ClaimsRepository,
    CommitConfirmation,
    ClaimReadsRepository,
    soldOutMemoryProvider,
    UserClaimsService,
    ClaimFastPath,
  ],
})
export class ClaimsModule {}
