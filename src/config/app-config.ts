import { IsBoolean, IsIn, IsInt, IsString, Matches, Max, MaxLength, Min, MinLength } from 'class-validator';
import { USERNAME_PATTERN, USERNAME_RULE } from '../common/identifiers';
import { ClaimPathAndOperationsConfig } from './claim-path-config';

/**
 * Every setting the service reads. Defaults live in env.example.json (the documented list);
 * env.json overrides them and environment variables override both. See config.loader.ts.
 */
export class AppConfig extends ClaimPathAndOperationsConfig {
  @IsIn(['development', 'production', 'test'])
  NODE_ENV: 'development' | 'production' | 'test';

  @IsString()
  HOST: string;

  @IsInt()
  @Min(0)
  @Max(65535)
  PORT: number;

  /**
   * Connections the kernel queues for accept(); a flash sale opens thousands at once and Node's
   * default of 511 drops SYNs past it (clients wait 1 s, 3 s, 7 s to retry). Capped by net.core.somaxconn.
   */
  @IsInt()
  @Min(1)
  @Max(65535)
  LISTEN_BACKLOG: number;

  /**
   * Requests in progress per process before further connections wait unread, in the kernel
   * (src/lifecycle/request-admission.ts); 0: no bound. Nothing is refused for it.
   */
  @IsInt()
  @Min(0)
  @Max(1_000_000)
  MAX_REQUESTS_IN_FLIGHT: number;

  @IsInt()
  @Min(1024)
  @Max(10 * 1024 * 1024)
  BODY_LIMIT_BYTES: number;

  /**
   * Whose X-Forwarded-For to believe: "" (nobody), "true" (any hop), or addresses/CIDRs. No hop
   * count: it cannot tell a proxy from a client, and Fastify (5.12 on) then believes no one.
   */
  @Matches(/^(|true|false|(?!\d+$)[0-9A-Fa-f.:/]+(,[0-9A-Fa-f.:/]+)*)$/, {
    message: 'must be empty, true, false or comma-separated proxy addresses/CIDRs (a hop count cannot tell a proxy from a client)',
  })
  TRUST_PROXY: string;

  /** Comma-separated origins allowed by CORS; empty: no CORS headers at all. */
  @Matches(/^(|https?:\/\/[^,\s/]+(,https?:\/\/[^,\s/]+)*)$/, {
    message: 'must be empty or a comma-separated list of http(s)://host[:port] origins',
  })
  CORS_ORIGINS: string;

  @IsIn(['fatal', 'error', 'warn', 'info', 'debug', 'verbose', 'silent'])
  LOG_LEVEL: string;

  @Matches(/^postgres(ql)?:\/\/.+\/[^/?]+/, { message: 'must be a postgres:// URL that names a database' })
  DATABASE_URL: string;

  @IsInt()
  @Min(1)
  @Max(500)
  DATABASE_POOL_SIZE: number;

  @IsInt()
  @Min(100)
  @Max(120000)
  DATABASE_CONNECT_TIMEOUT_MS: number;

  @IsInt()
  @Min(100)
  @Max(600000)
  DATABASE_STATEMENT_TIMEOUT_MS: number;

  /**
   * PostgreSQL ends a service session left idle inside a transaction this long (a frozen or
   * cut-off process), which frees the row locks it holds. Below DATABASE_LOCK_TIMEOUT_MS.
   */
  @IsInt()
  @Min(100)
  @Max(600000)
  DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS: number;

  /** The longest a statement waits for a row lock; below DATABASE_STATEMENT_TIMEOUT_MS. */
  @IsInt()
  @Min(100)
  @Max(600000)
  DATABASE_LOCK_TIMEOUT_MS: number;

  /** TCP keepalive on PostgreSQL and Redis sockets (both ends of a PostgreSQL session): idle time before the first probe. */
  @IsInt()
  @Min(1000)
  @Max(7_200_000)
  TCP_KEEPALIVE_MS: number;

  @IsBoolean()
  DATABASE_CREATE_IF_MISSING: boolean;

  @IsBoolean()
  MIGRATIONS_RUN: boolean;

  /**
   * Comma-separated, independent Redis nodes; Redlock needs a majority of them. An odd count:
   * an even one survives no more failures than one node fewer, and a tied vote (one "yes",
   * one "no" of two) never settles in the redlock library, so a split would hang the claim.
   */
  @Matches(/^rediss?:\/\/[^,\s]+(,rediss?:\/\/[^,\s]+,rediss?:\/\/[^,\s]+)*$/, {
    message: 'must be a comma-separated list of an odd number (1, 3, 5...) of redis:// URLs',
  })
  REDIS_URLS: string;

  @Matches(/^[A-Za-z0-9:_.-]*$/, { message: 'may hold only letters, digits and : _ . -' })
  REDIS_KEY_PREFIX: string;

  @IsInt()
  @Min(50)
  @Max(60000)
  REDIS_COMMAND_TIMEOUT_MS: number;

  @IsString()
  @MinLength(16)
  JWT_SECRET: string;

  @IsInt()
  @Min(10)
  @Max(30 * 24 * 3600)
  JWT_EXPIRES_IN: number;

  /** Verified tokens each process remembers until they expire (0 verifies every request). */
  @IsInt()
  @Min(0)
  @Max(10_000_000)
  JWT_VERIFIED_CACHE_SIZE: number;

  @IsInt()
  @Min(4)
  @Max(15)
  BCRYPT_COST: number;

  /**
   * bcrypt hashes (registration and login together) one process runs at once; past it the
   * request waits in the hashing queue (BCRYPT_QUEUE_MAX_WAIT_MS). 0: half the CPU cores, at
   * least 1, at most UV_THREADPOOL_SIZE (see bcryptConcurrency in config.loader.ts). Above it
   * the extra hashes wait for a hashing thread: load tools only.
   */
  @IsInt()
  @Min(0)
  @Max(1024)
  BCRYPT_MAX_CONCURRENT: number;

  /**
   * The longest a login or registration is expected to wait for its hash (round robin across
   * client addresses, at the measured drain rate); past it 503 AUTH_BUSY with a Retry-After.
   * 0: no queue, refuse whenever every hashing slot is taken.
   */
  @IsInt()
  @Min(0)
  @Max(120000)
  BCRYPT_QUEUE_MAX_WAIT_MS: number;

  /** How often each process reloads the list of deleted users whose tokens it must refuse. */
  @IsInt()
  @Min(100)
  @Max(60000)
  USER_REVOCATION_POLL_MS: number;

  /** Rate limits: at most LIMIT requests per WINDOW per key, counted in Redis; 0 turns a limit off. */
  @IsInt()
  @Min(0)
  @Max(1_000_000)
  LOGIN_RATE_LIMIT_PER_USERNAME: number;

  @IsInt()
  @Min(0)
  @Max(1_000_000)
  LOGIN_RATE_LIMIT_PER_ADDRESS: number;

  @IsInt()
  @Min(100)
  @Max(24 * 3600 * 1000)
  LOGIN_RATE_LIMIT_WINDOW_MS: number;

  @IsInt()
  @Min(0)
  @Max(1_000_000)
  REGISTRATION_RATE_LIMIT_PER_ADDRESS: number;

  @IsInt()
  @Min(100)
  @Max(24 * 3600 * 1000)
  REGISTRATION_RATE_LIMIT_WINDOW_MS: number;

  @IsInt()
  @Min(0)
  @Max(1_000_000)
  CLAIM_RATE_LIMIT_PER_USER: number;

  @IsInt()
  @Min(100)
  @Max(24 * 3600 * 1000)
  CLAIM_RATE_LIMIT_WINDOW_MS: number;

  @Matches(USERNAME_PATTERN, { message: `must be ${USERNAME_RULE}` })
  ADMIN_USERNAME: string;

  @IsString()
  @MaxLength(72)
  ADMIN_PASSWORD: string;
}

export type ConfigKey = keyof AppConfig;

/** Nest injection token for the validated, frozen AppConfig. */
export const APP_CONFIG = Symbol('APP_CONFIG');
