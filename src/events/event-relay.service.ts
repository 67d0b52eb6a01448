import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import { Counter } from 'prom-client';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { MetricsService } from '../metrics/metrics.service';
import { BrokerLink } from './broker-link';
import { OutboxRepository } from './outbox.repository';

/** Reconnection waits: from the first, doubling up to the last. */
const RECONNECT_FIRST_MS = 200;
const RECONNECT_MAX_MS = 5000;
/** How long shutdown waits for a lease in flight, before and after closing its link. */
const STOP_WAIT_MS = 1000;
/** Room for the lease's own statements on top of the broker's confirm time. */
const LEASE_MARGIN_MS = 2000;

/**
 * Carries outbox rows to RabbitMQ, in every API process whose EVENTS_URL is set: one loop that
 * keeps a broker link (declaring the exchange at each connect), leases due rows
 * (OutboxRepository.lease: a coupon at a time per relay, in commit order), publishes them with
 * publisher confirms and deletes what the broker confirmed. While the broker cannot be reached
 * nothing is leased and the outbox grows; claims do not wait for it.
 */
@Injectable()
export class EventRelay implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(EventRelay.name);
  private link: BrokerLink | null = null;
  private stopping = false;
  private loop: Promise<void> | null = null;
  private readonly wake = new AbortController();
  private readonly published: Counter<'outcome'>;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly outbox: OutboxRepository,
    metrics: MetricsService,
  ) {
    this.published = new Counter({
      name: 'events_published_total',
      help: 'Outbox events this process published, by broker answer: confirmed, refused (nack) or unknown (link lost before the confirm)',
      labelNames: ['outcome'] as const,
      registers: [metrics.registry],
    });
    for (const outcome of ['confirmed', 'refused', 'unknown']) this.published.inc({ outcome }, 0);
  }

  get enabled(): boolean {
    return this.config.EVENTS_URL !== '';
  }

  async onApplicationBootstrap(): Promise<void> {
    if (!this.enabled) return;
    // The exchange is declared before the service answers when the broker is there; a broker
    // that is not there yet does not stop the start (claims need no broker), the loop retries.
    await this.connect().catch((error: Error) => this.logger.warn(`event broker not reachable at start: ${error.message}; retrying`));
    this.loop = this.run();
  }

  /**
   * Stops the loop. A lease in flight gets STOP_WAIT_MS to settle; then the link is closed,
   * which fails its unconfirmed publishes, and it settles what was confirmed (the rest goes
   * out again from another process: a duplicate, never a loss). A broker behind a partition
   * must not hold the drain past SHUTDOWN_TIMEOUT_MS.
   */
  async onModuleDestroy(): Promise<void> {
    this.stopping = true;
    this.wake.abort();
    await this.loopWithin(STOP_WAIT_MS);
    await this.link?.close();
    await this.loopWithin(STOP_WAIT_MS);
    this.link = null;
  }

  /** Waits for the loop to end, at most `ms` (the timer does not outlive the wait). */
  private async loopWithin(ms: number): Promise<void> {
    const timer = new AbortController();
    await Promise.race([this.loop, sleep(ms, undefined, { signal: timer.signal }).catch(() => undefined)]);
    timer.abort();
  }

  private async run(): Promise<void> {
    let reconnectWait = RECONNECT_FIRST_MS;
    while (!this.stopping) {
      try {
        if (!this.link || this.link.failure) {
          if (this.link) {
            this.logger.warn(`event broker link lost: ${this.link.failure!.message}; reconnecting`);
            await this.link.close();
            this.link = null;
          }
          await this.connect();
          reconnectWait = RECONNECT_FIRST_MS;
        }
        const leased = await this.relayOnce(this.link!);
        if (leased < this.config.EVENTS_RELAY_BATCH_SIZE) await this.pause(this.config.EVENTS_RELAY_POLL_MS);
      } catch (error) {
        this.logger.warn(`event relay: ${(error as Error).message}; retrying in ${reconnectWait} ms`);
        await this.pause(reconnectWait);
        reconnectWait = Math.min(reconnectWait * 2, RECONNECT_MAX_MS);
      }
    }
  }

  private async connect(): Promise<void> {
    const link = await BrokerLink.open(this.config.EVENTS_URL, this.config.EVENTS_EXCHANGE);
    if (this.stopping) {
      // Opened while the process was stopping: nobody will use or close it.
      await link.close();
      throw new Error('stopping');
    }
    this.link = link;
    this.logger.log(`event broker connected; exchange ${this.config.EVENTS_EXCHANGE} declared`);
  }

  /** One lease: publish, then settle what the broker said. How many rows were leased. */
  private relayOnce(link: BrokerLink): Promise<number> {
    const timeoutMs = this.config.EVENTS_PUBLISH_TIMEOUT_MS;
    return this.outbox.lease(
      this.config.EVENTS_RELAY_BATCH_SIZE,
      timeoutMs + LEASE_MARGIN_MS,
      async (rows) => {
        const outcome = await link.publish(rows, timeoutMs);
        this.published.inc({ outcome: 'confirmed' }, outcome.sent.length);
        this.published.inc({ outcome: 'refused' }, outcome.refused.length);
        this.published.inc({ outcome: 'unknown' }, rows.length - outcome.sent.length - outcome.refused.length);
        for (const refused of outcome.refused) this.logger.warn(`event ${refused.id} refused by the broker: ${refused.error}`);
        return outcome;
      },
      { maxAttempts: this.config.EVENTS_PUBLISH_MAX_ATTEMPTS, retryDelayMs: this.config.EVENTS_RETRY_DELAY_MS },
    );
  }

  private async pause(ms: number): Promise<void> {
    await sleep(ms, undefined, { signal: this.wake.signal }).catch(() => undefined);
  }
}
