import { DataSource, DataSourceOptions } from 'typeorm';
import { InitialSchema1763890000000 } from '../../migrations/1763890000000-InitialSchema';
import { UserDeletion1763990000000 } from '../../migrations/1763990000000-UserDeletion';
import { CouponSaleWindows1764000000000 } from '../../migrations/1764000000000-CouponSaleWindows';
import { CaseInsensitiveUsernames1764100000000 } from '../../migrations/1764100000000-CaseInsensitiveUsernames';
import { IdempotencyKeys1764200000000 } from '../../migrations/1764200000000-IdempotencyKeys';
import { EventOutbox1764300000000 } from '../../migrations/1764300000000-EventOutbox';
import { OutboxWaitingIndex1764400000000 } from '../../migrations/1764400000000-OutboxWaitingIndex';
import { AppConfig } from '../config/app-config';
import { Coupon } from '../coupons/coupon.entity';
import { UserClaim } from '../claims/user-claim.entity';
import { User } from '../users/user.entity';

export const ENTITIES = [User, Coupon, UserClaim];

/** Listed, not globbed: the same list works from ts sources (jest) and from dist/. */
export const MIGRATIONS = [
  InitialSchema1763890000000,
  UserDeletion1763990000000,
  CouponSaleWindows1764000000000,
  CaseInsensitiveUsernames1764100000000,
  IdempotencyKeys1764200000000,
  EventOutbox1764300000000,
  OutboxWaitingIndex1764400000000,
];

/** One set of options for the app (TypeOrmModule) and the migration CLI. */
export function dataSourceOptions(config: AppConfig): DataSourceOptions {
  return {
    type: 'postgres',
    url: config.DATABASE_URL,
    entities: ENTITIES,
    migrations: MIGRATIONS,
    migrationsTableName: 'typeorm_migrations',
    synchronize: false,
    migrationsRun: false, // run explicitly under an advisory lock, see database-setup.ts
    // Off: TypeORM's error log prints query parameters, which include password hashes.
    logging: false,
    extra: {
      max: config.DATABASE_POOL_SIZE,
      connectionTimeoutMillis: config.DATABASE_CONNECT_TIMEOUT_MS,
      statement_timeout: config.DATABASE_STATEMENT_TIMEOUT_MS,
      // A cut connection must fail its query rather than hang the request.
      query_timeout: config.DATABASE_STATEMENT_TIMEOUT_MS + 1000,
      // Per session, so a frozen or cut-off API process cannot hold the coupon row for longer
      // than the batch queued behind it waits (the order is checked in config.loader.ts).
      idle_in_transaction_session_timeout: config.DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS,
      lock_timeout: config.DATABASE_LOCK_TIMEOUT_MS,
      // Both ends probe an idle connection: ours to drop a dead socket from the pool, the
      // server's (set for this session) to free the slot of a client that vanished.
      keepAlive: true,
      keepAliveInitialDelayMillis: config.TCP_KEEPALIVE_MS,
      options: serverKeepalive(config.TCP_KEEPALIVE_MS),
      application_name: 'flash-sale-coupons',
    },
  };
}

/**
 * The server's keepalive for this session: first probe after `idleMs`, then every `idleMs`,
 * three unanswered probes end the session (all three settings are per-session in PostgreSQL).
 */
function serverKeepalive(idleMs: number): string {
  const seconds = Math.max(1, Math.round(idleMs / 1000));
  return `-c tcp_keepalives_idle=${seconds} -c tcp_keepalives_interval=${seconds} -c tcp_keepalives_count=3`;
}

export function createDataSource(config: AppConfig): DataSource {
  return new DataSource(dataSourceOptions(config));
}
