import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The database is the real fence: even if a Redlock lease expires mid-transaction, these
 * constraints make overselling and double claims impossible.
 */
export class InitialSchema1763890000000 implements MigrationInterface {
  name = 'InitialSchema1763890000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE users (
        id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        username      varchar(64) NOT NULL,
        password_hash varchar(60) NOT NULL,
        role          varchar(16) NOT NULL DEFAULT 'user',
        created_at    timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT users_username_key UNIQUE (username),
        CONSTRAINT users_role_check CHECK (role IN ('user', 'admin'))
      )`);
    await queryRunner.query(`
      CREATE TABLE coupons (
        id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        name             varchar(64) NOT NULL,
        amount           integer NOT NULL,
        remaining_amount integer NOT NULL,
        created_at       timestamptz NOT NULL DEFAULT now(),
        updated_at       timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT coupons_name_key UNIQUE (name),
        CONSTRAINT coupons_amount_check CHECK (amount > 0),
        CONSTRAINT coupons_remaining_amount_check CHECK (remaining_amount >= 0 AND remaining_amount <= amount)
      )`);
    await queryRunner.query(`
      CREATE TABLE user_claims (
        id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        coupon_id  bigint NOT NULL REFERENCES coupons (id) ON DELETE CASCADE,
        claimed_at timestamptz NOT NULL DEFAULT clock_timestamp(),
        CONSTRAINT user_claims_user_coupon_key UNIQUE (user_id, coupon_id)
      )`);
    // claimed_by lists a coupon's holders in claim order (id order).
    await queryRunner.query(`CREATE INDEX user_claims_coupon_order_idx ON user_claims (coupon_id, id)`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE user_claims`);
    await queryRunner.query(`DROP TABLE coupons`);
    await queryRunner.query(`DROP TABLE users`);
  }
}
