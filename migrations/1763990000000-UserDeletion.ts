import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Deleting a user: the deletion is recorded so every process can refuse the user's tokens,
 * and a user who holds coupons cannot be deleted (RESTRICT instead of CASCADE), so
 * remaining_amount = amount - count(user_claims) keeps holding.
 */
export class UserDeletion1763990000000 implements MigrationInterface {
  name = 'UserDeletion1763990000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE deleted_users (
        user_id    bigint PRIMARY KEY,
        deleted_at timestamptz NOT NULL DEFAULT now()
      )`);
    await queryRunner.query(`ALTER TABLE user_claims DROP CONSTRAINT user_claims_user_id_fkey`);
    await queryRunner.query(`
      ALTER TABLE user_claims ADD CONSTRAINT user_claims_user_id_fkey
        FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE RESTRICT`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE user_claims DROP CONSTRAINT user_claims_user_id_fkey`);
    await queryRunner.query(`
      ALTER TABLE user_claims ADD CONSTRAINT user_claims_user_id_fkey
        FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE`);
    await queryRunner.query(`DROP TABLE deleted_users`);
  }
}
