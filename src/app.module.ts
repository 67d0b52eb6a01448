import { DynamicModule, Module } from '@nestjs/common';
import { AuthModule } from './auth/auth.module';
import { ClaimsModule } from './claims/claims.module';
import { AppConfig } from './config/app-config';
import { ConfigModule } from './config/config.module';
import { CouponsModule } from './coupons/coupons.module';
import { DatabaseModule } from './database/database.module';
import { HealthModule } from './health/health.module';
import { LockModule } from './lock/lock.module';
import { RateLimitModule } from './rate-limit/rate-limit.module';
import { UsersModule } from './users/users.module';

@Module({})
export class AppModule {
  static forConfig(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        DatabaseModule,
        LockModule,
        RateLimitModule,
        UsersModule,
        AuthModule,
        CouponsModule,
        ClaimsModule,
        HealthModule,
      ],
    };
  }
}
