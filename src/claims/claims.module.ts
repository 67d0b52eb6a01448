import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module';
import { IdempotencyModule } from '../idempotency/idempotency.module';
import { LockModule } from '../lock/lock.module';
import { MetricsModule } from '../metrics/metrics.module';
import { RateLimitModule } from '../rate-limit/rate-limit.module';
import { ClaimFastPath } from './claim-fast-path';
import { ClaimsController } from './claims.controller';
import { ClaimsRepository } from './claims.repository';
import { ClaimsService } from './claims.service';
import { UserClaimsController } from './user-claims.controller';
import { UserClaimsService } from './user-claims.service';

@Module({
  imports: [AuthModule, LockModule, RateLimitModule, MetricsModule, IdempotencyModule],
  controllers: [ClaimsController, UserClaimsController],
  providers: [ClaimsService, ClaimsRepository, UserClaimsService, ClaimFastPath],
})
export class ClaimsModule {}
