import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Sale windows and stock versions. Existing rows stay valid: a NULL bound means "no bound",
 * so a coupon without a window is always open. stock_version is bumped by every admin update
 * (in the same transaction), so a process that remembers "sold out at version N" can tell
 * cheaply whether that is still true.
 */
export class CouponSaleWindows1764000000000 implements MigrationInterface {
  name = 'CouponSaleWindows1764000000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      ALTER TABLE coupons
        ADD COLUMN starts_at     timestamptz NULL,
        ADD COLUMN ends_at       timestamptz NULL,
        ADD COLUMN stock_version integer NOT NULL DEFAULT 0,
        -- Equal bounds only come from closing a sale before it started: an empty window.
        ADD CONSTRAINT coupons_sale_window_check CHECK (ends_at >= starts_at)`);
    // A user's claims, newest first, for GET /api/users/me/claims.
    await queryRunner.query(`CREATE INDEX user_claims_user_order_idx ON user_claims (user_id, id)`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX user_claims_user_order_idx`);
    await queryRunner.query(`
      ALTER TABLE coupons
        DROP CONSTRAINT coupons_sale_window_check,
        DROP COLUMN stock_version,
        DROP COLUMN ends_at,
        DROP COLUMN starts_at`);
  }
}
