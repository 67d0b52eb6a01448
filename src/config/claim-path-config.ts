import { IsBoolean, IsInt, Matches, Max, Min } from 'class-validator';

/**
 * The settings of the claim path (lock, batches, sold-out memory, idempotency keys), of events,
 * tracing, health and shutdown: the second half of AppConfig (app-config.ts), which extends it.
 * class-validator checks a class's inherited properties with its own.
 */
export abstract class ClaimPathAndOperationsConfig {
  @IsInt()
  @Min(100)
  @Max(600000)
  LOCK_TTL_MS: number;

  @IsInt()
  @Min(0)
  @Max(100)
  LOCK_RETRY_COUNT: number;

  @IsInt()
  @Min(0)
  @Max(60000)
  LOCK_RETRY_DELAY_MS: number;

  @IsInt()
  @Min(0)
  @Max(60000)
  LOCK_RETRY_JITTER_MS: number;

  @IsInt()
  @Min(1)
  @Max(5000)
  CLAIM_BATCH_SIZE: number;

  @IsInt()
  @Min(0)
  @Max(1000)
  CLAIM_BATCH_MAX_WAIT_MS: number;

  /**
   * The longest a claim waits for the batch ahead of it (a batch stuck on a lost database
   * connection), before it is answered 503 LOCK_BUSY unsettled and retried, perhaps through
   * another process. 0: no limit.
   */
  @IsInt()
  @Min(0)
  @Max(600000)
  CLAIM_QUEUE_TIMEOUT_MS: number;

  /**
   * How long one stock read may answer later refusals of a sold-out coupon; every admin change
   * waits this long after its commit before answering 200 (sold-out-memory.ts). 0: each refusal
   * waits for a read that started after it arrived. The same value on every process.
   */
  @IsInt()
  @Min(0)
  @Max(1000)
  SOLD_OUT_READ_REUSE_MS: number;

  /** Sold-out coupons each process remembers at most (least recently claimed go first). */
  @IsInt()
  @Min(1)
  @Max(1_000_000)
  SOLD_OUT_MEMORY_MAX_COUPONS: number;

  /**
   * Holder ids each process keeps at most, over all remembered coupons (least recently claimed
   * coupons go first); a coupon with more holders than this is answered through the database.
   */
  @IsInt()
  @Min(0)
  @Max(100_000_000)
  SOLD_OUT_MEMORY_MAX_HOLDERS: number;

  /** Answer claims of a coupon known sold out before Nest's pipeline (claim-fast-path.ts). */
  @IsBoolean()
  CLAIM_FAST_PATH: boolean;

  /** Idempotency keys are kept at least this long (seconds), then purged in bounded batches. */
  @IsInt()
  @Min(1)
  @Max(30 * 24 * 3600)
  IDEMPOTENCY_KEY_TTL_SECONDS: number;

  /** Readiness probes and the scrape-time reads of /metrics (dependency_up, coupons_* gauges) give up after this long. */
  @IsInt()
  @Min(50)
  @Max(60000)
  HEALTH_TIMEOUT_MS: number;

  /** OTLP/HTTP (JSON) traces endpoint, e.g. http://collector:4318/v1/traces. Empty: no tracing at all. */
  @Matches(/^(|https?:\/\/\S+)$/, { message: 'must be empty or an http(s):// URL' })
  TRACING_OTLP_ENDPOINT: string;

  /** service.name of the exported spans. */
  @Matches(/^[A-Za-z0-9._-]{1,64}$/, { message: 'must be 1-64 letters, digits, . _ -' })
  TRACING_SERVICE_NAME: string;

  /** Share of new traces recorded (a caller's sampled flag is followed); 100: every request. */
  @IsInt()
  @Min(0)
  @Max(100)
  TRACING_SAMPLE_PERCENT: number;

  /** Worker processes `npm run start:cluster` forks; 0 means one per CPU core. */
  @IsInt()
  @Min(0)
  @Max(256)
  CLUSTER_WORKERS: number;

  /** After SIGTERM: how long health answers 503 "draining" before the server stops accepting. */
  @IsInt()
  @Min(0)
  @Max(60000)
  SHUTDOWN_GRACE_MS: number;

  /** After SIGTERM: the longest a drain may take before the process gives up and exits 1. */
  @IsInt()
  @Min(100)
  @Max(600000)
  SHUTDOWN_TIMEOUT_MS: number;

  /**
   * The RabbitMQ broker events are relayed to (amqp:// or amqps://). Empty: no event is written
   * and nothing is relayed (src/events, decisions.md). Set it on every process or on none.
   */
  @Matches(/^(|amqps?:\/\/\S+)$/, { message: 'must be empty or an amqp:// or amqps:// URL' })
  EVENTS_URL: string;

  /** The durable topic exchange the events go to; the service declares it. */
  @Matches(/^[A-Za-z0-9_.:-]{1,127}$/, { message: 'must be 1-127 letters, digits or _ . : -' })
  EVENTS_EXCHANGE: string;

  /** Outbox rows one relay publishes per lease (and deletes once confirmed). */
  @IsInt()
  @Min(1)
  @Max(10000)
  EVENTS_RELAY_BATCH_SIZE: number;

  /** How often an idle relay looks for new outbox rows. */
  @IsInt()
  @Min(5)
  @Max(60000)
  EVENTS_RELAY_POLL_MS: number;

  /** The longest a relay waits for the broker to confirm a batch before it gives the lease up and reconnects. */
  @IsInt()
  @Min(100)
  @Max(600000)
  EVENTS_PUBLISH_TIMEOUT_MS: number;

  /** Times an event the broker refuses (nack) is tried before it is dead-lettered in the outbox. */
  @IsInt()
  @Min(1)
  @Max(100)
  EVENTS_PUBLISH_MAX_ATTEMPTS: number;

  /** The wait after a refused publish; it doubles with each further try. */
  @IsInt()
  @Min(10)
  @Max(600000)
  EVENTS_RETRY_DELAY_MS: number;
}
