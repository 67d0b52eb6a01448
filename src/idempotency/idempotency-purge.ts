import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { IdempotencyKeysRepository } from './idempotency-keys.repository';

/** Rows one DELETE removes: a bounded statement, short row locks, a small WAL burst. */
export const PURGE_BATCH_SIZE = 5000;
/** How often each process looks for expired keys. */
const PURGE_INTERVAL_MS = 60_000;
/** Pause between two full batches, so a large backlog does not monopolise a connection. */
const PURGE_PAUSE_MS = 100;

/** Deletes keys older than IDEMPOTENCY_KEY_TTL_SECONDS, PURGE_BATCH_SIZE at a time, every minute. */
@Injectable()
export class IdempotencyPurge implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(IdempotencyPurge.name);
  private timer?: NodeJS.Timeout;
  private running?: Promise<number>;
  private stopped = false;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly keys: IdempotencyKeysRepository,
  ) {}

  onModuleInit(): void {
    this.timer = setInterval(() => void this.purge(), PURGE_INTERVAL_MS);
    this.timer.unref();
  }

  /** Purges until a batch comes back short; returns the keys deleted. One run at a time. */
  purge(): Promise<number> {
    this.running ??= this.purgeAll().finally(() => (this.running = undefined));
    return this.running;
  }

  private async purgeAll(): Promise<number> {
    let total = 0;
    try {
      for (;;) {
        const deleted = await this.keys.purgeExpired(this.config.IDEMPOTENCY_KEY_TTL_SECONDS, PURGE_BATCH_SIZE);
        total += deleted;
        if (deleted < PURGE_BATCH_SIZE || this.stopped) break;
        await new Promise((resolve) => setTimeout(resolve, PURGE_PAUSE_MS));
      }
    } catch (error) {
      this.logger.warn(`idempotency key purge stopped: ${(error as Error).message}`);
    }
    if (total > 0) this.logger.log(`purged ${total} expired idempotency keys`);
    return total;
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running;
  }
}
