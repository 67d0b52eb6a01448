import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The outbox rows waiting out a backoff after the broker refused them (attempts > 0): few, and
 * the relay looks for the first of them per coupon on every lease (a coupon's later events wait
 * behind it). Without this index that look walked every pending row of the coupon, once per row
 * leased: quadratic in a sale's backlog.
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
