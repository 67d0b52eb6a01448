import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { DeletedUsersRepository } from './deleted-users.repository';

/**
 * The ids of deleted users, whose still-unexpired tokens must be refused. Held in memory so
 * the token check costs no query per request; every process reloads it from the
 * deleted_users table every USER_REVOCATION_POLL_MS, and the deleting process adds the id at
 * once. So a deleted user's token stops working here at once and everywhere else within one
 * poll interval. Ids are never reused (identity column), so the set only grows.
 */
@Injectable()
export class DeletedUsersRegistry implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(DeletedUsersRegistry.name);
  private readonly ids = new Set<string>();
  private timer?: NodeJS.Timeout;
  private failing = false;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly deleted: DeletedUsersRepository,
  ) {}

  has(userId: string): boolean {
    return this.ids.has(userId);
  }

  /** Called by the deleting process after the deletion committed. */
  add(userId: string): void {
    this.ids.add(userId);
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.reload();
    this.timer = setInterval(() => void this.reload(), this.config.USER_REVOCATION_POLL_MS);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  private async reload(): Promise<void> {
    try {
      for (const id of await this.deleted.allIds()) this.ids.add(id);
      if (this.failing) this.logger.log('deleted users list reloaded again');
      this.failing = false;
    } catch (error) {
      // Keep what we know; the claim INSERT still refuses a deleted user through its foreign key.
      if (!this.failing) this.logger.warn(`could not reload deleted users: ${(error as Error).message}`);
      this.failing = true;
    }
  }
}
