import { Module } from '@nestjs/common';
import { MetricsModule } from '../metrics/metrics.module';
import { ClaimFastPath } from './claim-fast-path';
import { ClaimsController } from './claims.controller';
import { ClaimsRepository } from './claims.repository';
import { ClaimsService } from './claims.service';
import { UserClaimsController } from './user-claims.controller';
import { UserClaimsService } from './user-claims.service';

@Module({
  imports: [MetricsModule],
  controllers: [ClaimsController, UserClaimsController],
  providers: [ClaimsService, ClaimsRepository, UserClaimsService, ClaimFastPath],
  exports: [ClaimsService],
})
export class ClaimsModule {}
