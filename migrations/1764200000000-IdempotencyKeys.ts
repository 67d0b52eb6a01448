import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The answers given to requests that carried an Idempotency-Key, keyed by (user, key): a claim's
 * key is written in the transaction that writes its user_claims row. `created_at` is indexed for
 * the purge of keys older than IDEMPOTENCY_KEY_TTL_SECONDS. `response_body` is `json`, not
 * `jsonb`: a replay sends the body byte for byte as first sent (jsonb reorders its keys).
 */
export class IdempotencyKeys1764200000000 implements MigrationInterface {
  name = 'IdempotencyKeys1764200000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE idempotency_keys (
        user_id       bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        key           text        NOT NULL,
        fingerprint   text        NOT NULL,
        status_code   smallint    NOT NULL,
        response_body json        NOT NULL,
        created_at    timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT idempotency_keys_pkey PRIMARY KEY (user_id, key)
      )`);
    await queryRunner.query(`CREATE INDEX idempotency_keys_created_at_idx ON idempotency_keys (created_at)`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE idempotency_keys`);
  }
}
