import { Inject, Injectable } from '@nestjs/common';
import type Redis from 'ioredis';
import { DataSource } from 'typeorm';
import { databaseAnswers } from '../common/database-ping';
import { withTimeout } from '../common/with-timeout';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { REDIS_CLIENTS, quorumOf } from '../redis/redis-clients';

export type CheckState = 'up' | 'down';

export interface HealthReport {
  healthy: boolean;
  checks: { database: CheckState; redis: CheckState; redis_nodes: CheckState[] };
  down: string[];
}

/** Readiness: PostgreSQL answers and enough Redis nodes answer for a Redlock quorum. */
@Injectable()
export class HealthService {
  private draining = false;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly dataSource: DataSource,
    @Inject(REDIS_CLIENTS) private readonly redis: Redis[],
  ) {}

  /** Called on SIGTERM: stop being routed to while in-flight work finishes. */
  startDraining(): void {
    this.draining = true;
  }

  async check(): Promise<HealthReport> {
    const [database, ...nodes] = await Promise.all([
      databaseAnswers(this.dataSource, this.config.HEALTH_TIMEOUT_MS).then((up) => (up ? 'up' : 'down')),
      ...this.redis.map((client) => this.probe(client.ping())),
    ]);
    const redis: CheckState = nodes.filter((n) => n === 'up').length >= quorumOf(this.redis.length) ? 'up' : 'down';
    const down = [
      ...(database === 'down' ? ['database'] : []),
      ...(redis === 'down' ? ['redis'] : []),
      ...(this.draining ? ['draining'] : []),
    ];
    return { healthy: down.length === 0, checks: { database, redis, redis_nodes: nodes }, down };
  }

  private probe(answer: Promise<unknown>): Promise<CheckState> {
    const ms = this.config.HEALTH_TIMEOUT_MS;
    return withTimeout(answer, ms, `no answer within ${ms} ms`).then(
      () => 'up' as const,
      () => 'down' as const,
    );
  }
}
