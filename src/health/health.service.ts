import { Inject, Injectable } from '@nestjs/common';
import type Redis from 'ioredis';
import { DataSource } from 'typeorm';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { REDIS_CLIENTS } from '../lock/redis-clients';

export type CheckState = 'up' | 'down';

export interface HealthReport {
  healthy: boolean;
  checks: { database: CheckState; redis: CheckState; redis_nodes: CheckState[] };
  down: string[];
}

function within<T>(ms: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
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

  get isDraining(): boolean {
    return this.draining;
  }

  async check(): Promise<HealthReport> {
    const timeout = this.config.HEALTH_TIMEOUT_MS;
    const [database, ...nodes] = await Promise.all([
      within(timeout, this.dataSource.query('SELECT 1')).then(() => 'up' as const, () => 'down' as const),
      ...this.redis.map((client) =>
        within(timeout, client.ping()).then(() => 'up' as const, () => 'down' as const),
      ),
    ]);
    const quorum = Math.floor(this.redis.length / 2) + 1;
    const redis: CheckState = nodes.filter((n) => n === 'up').length >= quorum ? 'up' : 'down';
    const down = [
      ...(database === 'down' ? ['database'] : []),
      ...(redis === 'down' ? ['redis'] : []),
      ...(this.draining ? ['draining'] : []),
    ];
    return { healthy: down.length === 0, checks: { database, redis, redis_nodes: nodes }, down };
  }
}
