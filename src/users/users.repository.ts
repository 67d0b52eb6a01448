import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import type { Role } from '../auth/authenticated-user';
import { User } from './user.entity';

/** The users table (and deleted_users, which a deletion writes in the same statement). */
@Injectable()
export class UsersRepository {
  constructor(@InjectRepository(User) private readonly users: Repository<User>) {}

  /** Throws the database's unique violation (users_username_lower_key) when the name is taken in some case. */
  insert(username: string, passwordHash: string, role: Role): Promise<User> {
    return this.users.save(this.users.create({ username, passwordHash, role }));
  }

  /**
   * Deletes the user and records the deletion in one statement, or neither happens; the id of
   * the deleted user, or undefined when there was none. A user who holds coupons is refused by
   * the foreign key (RESTRICT), which is thrown.
   */
  async deleteAndRecord(username: string): Promise<string | undefined> {
    const deleted: { user_id: string }[] = await this.users.query(
      `WITH gone AS (DELETE FROM users WHERE lower(username) = lower($1) RETURNING id)
       INSERT INTO deleted_users (user_id) SELECT id FROM gone RETURNING user_id`,
      [username],
    );
    return deleted[0]?.user_id;
  }

  /** The user with its password hash, for login only; the name in any case. */
  findWithHash(username: string): Promise<User | null> {
    return this.users
      .createQueryBuilder('user')
      .addSelect('user.passwordHash')
      .where('lower(user.username) = lower(:username)', { username })
      .getOne();
  }

  findById(id: string): Promise<User | null> {
    return this.users.findOneBy({ id });
  }

  /** Creates the admin account, or resets the password and role of the account of that name. */
  async upsertAdmin(username: string, passwordHash: string): Promise<void> {
    await this.users.query(
      `INSERT INTO users (username, password_hash, role) VALUES ($1, $2, 'admin')
       ON CONFLICT ((lower(username))) DO UPDATE SET password_hash = EXCLUDED.password_hash, role = 'admin'`,
      [username, passwordHash],
    );
  }
}
