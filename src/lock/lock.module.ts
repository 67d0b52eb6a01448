import { Global, Module } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { LockService } from './lock.service';
import { REDIS_CLIENTS, createRedisClients } from './redis-clients';

@Global()
@Module({
  providers: [
    { provide: REDIS_CLIENTS, inject: [APP_CONFIG], useFactory: (config: AppConfig) => createRedisClients(config) },
    LockService,
  ],
  exports: [LockService, REDIS_CLIENTS],
})
export class LockModule {}
