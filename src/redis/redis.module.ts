import { Inject, Injectable, Module, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import type Redis from 'ioredis';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { REDIS_CLIENTS, createRedisClients } from './redis-clients';

/** Connects the clients before the app serves, and closes them when it stops. */
@Injectable()
export class RedisConnections implements OnModuleInit, OnApplicationShutdown {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(REDIS_CLIENTS) private readonly clients: Redis[],
  ) {}

  /** Waits (bounded) for the first connections, so claims right after start-up are not refused. */
  async onModuleInit(): Promise<void> {
    const bound = this.config.REDIS_COMMAND_TIMEOUT_MS * 2;
    await Promise.all(
      this.clients.map((client) =>
        client.status === 'ready'
          ? Promise.resolve()
          : new Promise<void>((resolve) => {
              const timer = setTimeout(resolve, bound);
              client.once('ready', () => {
                clearTimeout(timer);
                resolve();
              });
            }),
      ),
    );
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all(this.clients.map((client) => client.quit().catch(() => client.disconnect())));
  }
}

/** The clients of the independent Redis nodes (REDIS_URLS): the lock, rate limits and health use them. */
@Module({
  providers: [
    { provide: REDIS_CLIENTS, inject: [APP_CONFIG], useFactory: (config: AppConfig) => createRedisClients(config) },
    RedisConnections,
  ],
  exports: [REDIS_CLIENTS],
})
export class RedisModule {}
