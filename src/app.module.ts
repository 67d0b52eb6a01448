import { DynamicModule, Module } from '@nestjs/common';
import type { DestinationStream } from 'pino';
import { ClaimsModule } from './claims/claims.module';
import { AppConfig } from './config/app-config';
import { ConfigModule } from './config/config.module';
import { CouponsModule } from './coupons/coupons.module';
import { DatabaseModule } from './database/database.module';
import { EventsModule } from './events/events.module';
import { HealthModule } from './health/health.module';
import { LoggingModule } from './logging/logging.module';
import { MetricsModule } from './metrics/metrics.module';
import { TracingModule } from './tracing/tracing.module';
import { UsersModule } from './users/users.module';

@Module({})
export class AppModule {
  /** `logDestination` lets tests capture the JSON log lines; by default they go to stdout. */
  static forConfig(config: AppConfig, logDestination?: DestinationStream): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        LoggingModule.forConfig(config, logDestination),
        DatabaseModule,
        UsersModule,
        CouponsModule,
        ClaimsModule,
        HealthModule,
        MetricsModule,
        TracingModule,
        EventsModule,
      ],
    };
  }
}
