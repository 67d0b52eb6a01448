import { Injectable, OnModuleInit } from '@nestjs/common';
import { MetricsService } from '../metrics/metrics.service';
import { OutboxRepository, OutboxStats } from './outbox.repository';

/** The outbox gauges, read from the database at scrape time (one query for the three). */
@Injectable()
export class OutboxGauges implements OnModuleInit {
  private pending: Promise<OutboxStats> | null = null;

  constructor(
    private readonly metrics: MetricsService,
    private readonly outbox: OutboxRepository,
  ) {}

  onModuleInit(): void {
    this.metrics.gaugeReadAtScrape(
      'events_outbox_pending',
      'Outbox events not yet confirmed by the broker, dead letters excluded',
      async () => (await this.stats()).pending,
    );
    this.metrics.gaugeReadAtScrape(
      'events_outbox_oldest_pending_age_seconds',
      'Age of the oldest outbox event not yet confirmed by the broker (0 when none); dead letters excluded',
      async () => (await this.stats()).oldestPendingAgeSeconds,
    );
    this.metrics.gaugeReadAtScrape(
      'events_outbox_dead_letters',
      'Outbox events the broker refused every try; they wait for an operator to replay them',
      async () => (await this.stats()).dead,
    );
  }

  /** The three gauges of one scrape share one read. */
  private stats(): Promise<OutboxStats> {
    this.pending ??= this.outbox.stats().finally(() => setTimeout(() => (this.pending = null), 0));
    return this.pending;
  }
}
