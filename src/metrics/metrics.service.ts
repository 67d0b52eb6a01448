import { Inject, Injectable, Logger } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { DataSource } from 'typeorm';
import { withTimeout } from '../common/with-timeout';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { RequestDurationHistogram } from './request-duration-histogram';

/** Seconds: the upper bounds of http_request_duration_seconds's buckets. */
export const HTTP_DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** pg's pool, as far as the gauges need it. */
interface PgPool {
  totalCount: number;
  idleCount: number;
  waitingCount: number;
}

/**
 * Prometheus metrics of one app instance, in its own registry (never prom-client's global
 * one, so several apps in one process do not collide). Recording is a counter or histogram
 * update, cheap enough for the claim path; gauges of the database are read only at scrape time.
 */
@Injectable()
export class MetricsService {
  private readonly logger = new Logger(MetricsService.name);
  readonly registry = new Registry();

  private readonly httpDuration = new RequestDurationHistogram(HTTP_DURATION_BUCKETS, this.registry);

  private readonly claims = new Counter({
    name: 'coupon_claims_total',
    help: 'Claim requests by outcome: GRANTED or the error code answered',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  private readonly lockWait = new Histogram({
    name: 'claim_lock_wait_seconds',
    help: 'Time to acquire the Redlock lock of a claim batch (successful acquisitions)',
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5],
    registers: [this.registry],
  });

  private readonly lockFailures = new Counter({
    name: 'claim_lock_failures_total',
    help: 'Claim batches that could not get the lock: busy (held through every retry) or unavailable (no Redis quorum)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  private readonly batchSize = new Histogram({
    name: 'claim_batch_size',
    help: 'Claims settled together under one lock and one transaction',
    buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000],
    registers: [this.registry],
  });

  /** One probe per (dependency, node), read at scrape time; see dependencyUp. */
  private readonly dependencyProbes = new Map<string, { dependency: string; node: string; probe: () => Promise<boolean> }>();

  private readonly shedLogins = new Counter({
    name: 'auth_shed_total',
    help: 'Logins and registrations refused with 503 AUTH_BUSY (password hashing at capacity)',
    registers: [this.registry],
  });

  private readonly rateLimited = new Counter({
    name: 'rate_limited_total',
    help: 'Requests answered 429 TOO_MANY_REQUESTS, by the limit they exceeded',
    labelNames: ['limit'] as const,
    registers: [this.registry],
  });

  private readonly rateLimitFailOpen = new Counter({
    name: 'rate_limit_fail_open_total',
    help: 'Requests let through without a limit check because Redis did not answer the rate limiter',
    registers: [this.registry],
  });

  constructor(
    private readonly dataSource: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    for (const reason of ['busy', 'unavailable']) this.lockFailures.inc({ reason }, 0);
    const probes = this.dependencyProbes;
    new Gauge({
      name: 'dependency_up',
      help: 'Whether a dependency answered a probe when Prometheus scraped (1) or failed or timed out (0)',
      labelNames: ['dependency', 'node'] as const,
      registers: [this.registry],
      async collect() {
        // All probes at once: a scrape waits for the slowest one, bounded by its own timeout.
        const answers = await Promise.all(
          [...probes.values()].map((p) =>
            Promise.resolve()
              .then(p.probe)
              .catch(() => false),
          ),
        );
        [...probes.values()].forEach(({ dependency, node }, i) => this.set({ dependency, node }, answers[i] ? 1 : 0));
      },
    });
    const pool = () => (this.dataSource.driver as unknown as { master?: PgPool }).master;
    new Gauge({
      name: 'db_pool_connections_in_use',
      help: 'PostgreSQL connections of this instance checked out of its pool',
      registers: [this.registry],
      collect() {
        const p = pool();
        this.set(p ? p.totalCount - p.idleCount : 0);
      },
    });
    new Gauge({
      name: 'db_pool_waiting_requests',
      help: 'Queries of this instance waiting for a free pool connection',
      registers: [this.registry],
      collect() {
        this.set(pool()?.waitingCount ?? 0);
      },
    });
    collectDefaultMetrics({ register: this.registry });
  }

  /**
   * A gauge whose value is read when Prometheus scrapes (a feature module registers it with
   * its own read, a query say), within HEALTH_TIMEOUT_MS. A failed or late read keeps the last
   * value rather than failing or stalling the scrape, during a database outage for instance;
   * dependency_up in the same scrape says the value is not fresh.
   */
  gaugeReadAtScrape(name: string, help: string, read: () => Promise<number>): void {
    const { logger } = this;
    const timeoutMs = this.config.HEALTH_TIMEOUT_MS;
    new Gauge({
      name,
      help,
      registers: [this.registry],
      async collect() {
        try {
          this.set(await withTimeout(read(), timeoutMs, `no answer within ${timeoutMs} ms`));
        } catch (error) {
          logger.warn(`${name} not refreshed: ${(error as Error).message}`);
        }
      },
    });
  }

  /**
   * Adds `dependency_up{dependency, node}`: `probe` runs at every scrape and must settle within
   * its own short timeout; false, a rejection or a throw read as 0.
   */
  dependencyUp(dependency: string, node: string, probe: () => Promise<boolean>): void {
    this.dependencyProbes.set(`${dependency}\u0000${node}`, { dependency, node, probe });
  }

  countShedLogin(): void {
    this.shedLogins.inc();
  }

  /** One 429 by `limit`; `by` 0 declares the series, so alerts and panels see it before the first 429. */
  countRateLimited(limit: string, by = 1): void {
    this.rateLimited.inc({ limit }, by);
  }

  countRateLimitFailOpen(): void {
    this.rateLimitFailOpen.inc();
  }

  observeHttp(method: string, route: string, statusCode: number, seconds: number): void {
    this.httpDuration.observe(method, route, statusCode, seconds);
  }

  countClaim(outcome: string): void {
    this.claims.inc({ outcome });
  }

  observeLockWait(ms: number): void {
    this.lockWait.observe(ms / 1000);
  }

  countLockFailure(reason: 'busy' | 'unavailable'): void {
    this.lockFailures.inc({ reason });
  }

  observeBatch(size: number): void {
    this.batchSize.observe(size);
  }

  async exposition(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
