import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The outbox rows the broker refused (attempts > 0): few, and the relay asks of every row it
 * considers whether such a row of its coupon, earlier and still in backoff, holds it back.
 * Without this index that look walked every pending row of the coupon, once per row leased:
 * quadratic in a sale's backlog.
 */
export class OutboxWaitingIndex1764400000000 implements MigrationInterface {
  name = 'OutboxWaitingIndex1764400000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE INDEX outbox_events_waiting_idx ON outbox_events (coupon_id, id) WHERE dead_at IS NULL AND attempts > 0`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX outbox_events_waiting_idx`);
  }
}
