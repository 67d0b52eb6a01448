import { Inject, Injectable } from '@nestjs/common';
import type Redis from 'ioredis';
import { DataSource } from 'typeorm';
import { databaseAnswers } from '../common/database-ping';
import { withTimeout } from '../common/with-timeout';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { redisUrls } from '../config/config.loader';
import { REDIS_CLIENTS } from '../redis/redis-clients';
import { MetricsService } from './metrics.service';

/** `host:port` of a connection URL: a label that never carries its credentials. */
export const nodeLabel = (url: string): string => {
  const parsed = new URL(url);
  return parsed.port ? `${parsed.hostname}:${parsed.port}` : parsed.hostname;
};

/**
 * `dependency_up` for PostgreSQL (one round trip through the pool, as readiness does) and for
 * each Redis node (a PING on its own client), read when Prometheus scrapes, each within
 * HEALTH_TIMEOUT_MS. Another module adds its own dependency through MetricsService.dependencyUp.
 */
@Injectable()
export class DependencyGauges {
  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    dataSource: DataSource,
    @Inject(REDIS_CLIENTS) redis: Redis[],
    metrics: MetricsService,
  ) {
    const timeoutMs = config.HEALTH_TIMEOUT_MS;
    metrics.dependencyUp('postgres', nodeLabel(config.DATABASE_URL), () => databaseAnswers(dataSource, timeoutMs));
    redisUrls(config).forEach((url, i) => {
      metrics.dependencyUp('redis', nodeLabel(url), () =>
        withTimeout(redis[i].ping(), timeoutMs, `no answer within ${timeoutMs} ms`).then(() => true),
      );
    });
  }
}
