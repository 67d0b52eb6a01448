import { Module } from '@nestjs/common';
import { MetricsModule } from '../metrics/metrics.module';
import { EventRelay } from './event-relay.service';
import { OutboxGauges } from './outbox-gauges';
import { OutboxRepository } from './outbox.repository';

/** The outbox relay to RabbitMQ, and its gauges (the events themselves are written by the claims and coupons repositories). */
@Module({
  imports: [MetricsModule],
  providers: [OutboxRepository, EventRelay, OutboxGauges],
  exports: [OutboxRepository],
})
export class EventsModule {}
