import { Module } from '@nestjs/common';
import { RedisModule } from '../redis/redis.module';
import { IdempotencyKeysRepository } from './idempotency-keys.repository';
import { IdempotencyPurge } from './idempotency-purge';
import { IdempotencyService } from './idempotency.service';
import { InFlightKeys } from './in-flight-keys';

/** Idempotency-Key: the keys table, the in-flight marker, replays, the TTL purge. */
@Module({
  imports: [RedisModule],
  providers: [IdempotencyKeysRepository, InFlightKeys, IdempotencyService, IdempotencyPurge],
  exports: [IdempotencyService, IdempotencyKeysRepository],
})
export class IdempotencyModule {}
