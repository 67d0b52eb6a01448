import { Logger } from '@nestjs/common';
import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * One name, one person: usernames become unique regardless of case (a unique index on
 * lower(username) replaces UNIQUE (username)); the stored spelling stays what the API shows.
 *
 * Rows that already differ only in case keep one owner: the admin account if it is one of them,
 * else the oldest (lowest id). Every other one is renamed `<name>-renamed-<id>` (the name cut so
 * the whole fits 64 characters), which still matches the username rule, so the account keeps
 * its claims, can log in under its new name and an admin can find or delete it. Each rename is
 * logged. If a new name is itself taken, the migration stops and names the row, changing nothing.
 * `down` restores the case-sensitive constraint but not the old names.
 */
export class CaseInsensitiveUsernames1764100000000 implements MigrationInterface {
  name = 'CaseInsensitiveUsernames1764100000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const logger = new Logger(CaseInsensitiveUsernames1764100000000.name);
    // Registrations by processes still on the old code wait until this commits, so none can
    // slip a new case-duplicate in between the renames and the index.
    await queryRunner.query(`LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE`);
    const renames: { id: string; username: string; renamed: string }[] = await queryRunner.query(`
      SELECT id, username,
             left(username, 64 - length('-renamed-' || id)) || '-renamed-' || id AS renamed
        FROM (SELECT id, username,
                     row_number() OVER (PARTITION BY lower(username) ORDER BY (role = 'admin') DESC, id) AS rank
                FROM users) ranked
       WHERE rank > 1
       ORDER BY id`);
    for (const row of renames) {
      const [clash] = await queryRunner.query(`SELECT id FROM users WHERE lower(username) = lower($1)`, [row.renamed]);
      if (clash) {
        throw new Error(
          `cannot make usernames case-insensitive: user ${row.id} ("${row.username}") would be renamed ` +
            `"${row.renamed}", which user ${clash.id} already has; rename one of them by hand and start again`,
        );
      }
      await queryRunner.query(`UPDATE users SET username = $2 WHERE id = $1`, [row.id, row.renamed]);
      logger.warn(`user ${row.id} "${row.username}" renamed "${row.renamed}": another account has the same name in another case`);
    }
    await queryRunner.query(`ALTER TABLE users DROP CONSTRAINT users_username_key`);
    await queryRunner.query(`CREATE UNIQUE INDEX users_username_lower_key ON users (lower(username))`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX users_username_lower_key`);
    await queryRunner.query(`ALTER TABLE users ADD CONSTRAINT users_username_key UNIQUE (username)`);
  }
}
