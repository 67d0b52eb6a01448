import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuthModule } from '../auth/auth.module';
import { MetricsModule } from '../metrics/metrics.module';
import { RateLimitModule } from '../rate-limit/rate-limit.module';
import { HashingGauges } from './hashing-gauges';
import { HashingLoadShedder } from './hashing-load-shedder';
import { PasswordHasher } from './password-hasher';
import { User } from './user.entity';
import { UsersController } from './users.controller';
import { UsersRepository } from './users.repository';
import { UsersService } from './users.service';

/** Accounts: registration, login, profile, deletion, and the admin account from config. */
@Module({
  imports: [TypeOrmModule.forFeature([User]), AuthModule, RateLimitModule, MetricsModule],
  controllers: [UsersController],
  providers: [UsersService, UsersRepository, PasswordHasher, HashingLoadShedder, HashingGauges],
})
export class UsersModule {}
