import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The transactional outbox: every state change writes its event here in the same transaction
 * as the change, and the relay (src/events) carries the rows to RabbitMQ. `id` is the order
 * key: a coupon's events are written under its row lock (claims and admin changes take it
 * FOR UPDATE), so for one coupon id order is commit order. `event_id` is what consumers see
 * and deduplicate by. A row is deleted once the broker confirmed it; `dead_at` marks a row the
 * broker refused EVENTS_PUBLISH_MAX_ATTEMPTS times, kept for an operator to replay.
 */
export class EventOutbox1764300000000 implements MigrationInterface {
  name = 'EventOutbox1764300000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE outbox_events (
        id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        event_id        uuid NOT NULL DEFAULT gen_random_uuid(),
        event_type      varchar(32) NOT NULL,
        coupon_id       bigint NOT NULL,
        coupon_name     varchar(64) NOT NULL,
        payload         jsonb NOT NULL DEFAULT '{}',
        occurred_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
        attempts        integer NOT NULL DEFAULT 0,
        next_attempt_at timestamptz NOT NULL DEFAULT '-infinity',
        last_error      text NULL,
        dead_at         timestamptz NULL,
        CONSTRAINT outbox_events_event_id_key UNIQUE (event_id),
        CONSTRAINT outbox_events_type_check CHECK (event_type IN
          ('claim.granted', 'coupon.created', 'coupon.updated', 'coupon.closed', 'coupon.sold_out'))
      )`);
    // The relay's scan: the rows still to send, per coupon in order.
    await queryRunner.query(`CREATE INDEX outbox_events_pending_idx ON outbox_events (coupon_id, id) WHERE dead_at IS NULL`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE outbox_events`);
  }
}
