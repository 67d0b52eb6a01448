import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { isForeignKeyViolation, isUniqueViolation } from '../common/database-errors';
import { DomainError } from '../common/domain-error';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { DeletedUsersRegistry } from './deleted-users.registry';
import { sameUsername } from './dto/credentials.dto';
import { PasswordHasher } from './password-hasher';
import { Role, User } from './user.entity';

export interface UserView {
  id: number;
  username: string;
  role: Role;
  created_at: string;
}

export const toUserView = (user: User): UserView => ({
  id: Number(user.id),
  username: user.username,
  role: user.role,
  created_at: user.createdAt.toISOString(),
});

@Injectable()
export class UsersService implements OnApplicationBootstrap {
  private readonly logger = new Logger(UsersService.name);

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @InjectRepository(User) private readonly users: Repository<User>,
    private readonly hasher: PasswordHasher,
    private readonly deletedUsers: DeletedUsersRegistry,
  ) {}

  async register(username: string, password: string): Promise<UserView> {
    // The configured admin name is reserved, in any case, even while no admin password is set.
    if (sameUsername(username, this.config.ADMIN_USERNAME)) throw usernameTaken(username);
    const passwordHash = await this.hasher.hash(password);
    try {
      const user = await this.users.save(this.users.create({ username, passwordHash, role: 'user' }));
      return toUserView(user);
    } catch (error) {
      // users_username_lower_key: the name is taken in some case.
      if (isUniqueViolation(error)) throw usernameTaken(username);
      throw error;
    }
  }

  /**
   * Deletes a user and records the deletion, atomically, so every process refuses the
   * user's tokens (see DeletedUsersRegistry). A user who holds coupons is refused by the
   * foreign key (RESTRICT): their claims keep remaining_amount = amount - claims true.
   */
  async delete(username: string, requestedBy: string): Promise<void> {
    if (sameUsername(username, requestedBy)) {
      throw new DomainError('CANNOT_DELETE_SELF', 'An admin cannot delete its own account');
    }
    let deleted: { user_id: string }[];
    try {
      // One statement: the user goes and the deletion is recorded, or neither happens.
      deleted = await this.users.query(
        `WITH gone AS (DELETE FROM users WHERE lower(username) = lower($1) RETURNING id)
         INSERT INTO deleted_users (user_id) SELECT id FROM gone RETURNING user_id`,
        [username],
      );
    } catch (error) {
      if (isForeignKeyViolation(error)) {
        throw new DomainError('USER_HAS_CLAIMS', `User "${username}" holds coupons and cannot be deleted`);
      }
      throw error;
    }
    const deletedId = deleted[0]?.user_id;
    if (deletedId === undefined) throw new DomainError('USER_NOT_FOUND', `User "${username}" does not exist`);
    this.deletedUsers.add(deletedId);
    this.logger.log(`user "${username}" deleted by "${requestedBy}"`);
  }

  /** The user with its password hash, for login only; the name in any case (users_username_lower_key). */
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

  /** The caller's own profile; a token that outlived its user is no longer valid. */
  async profile(id: string): Promise<UserView> {
    const user = await this.findById(id);
    if (!user) throw new DomainError('TOKEN_INVALID', 'The user of this token no longer exists');
    return toUserView(user);
  }

  /** Creates the admin account or resets its password and role, from config, at every start. */
  async onApplicationBootstrap(): Promise<void> {
    const { ADMIN_USERNAME: username, ADMIN_PASSWORD: password } = this.config;
    if (!password) {
      this.logger.warn('ADMIN_PASSWORD is not set: no admin account exists, nobody can create coupons');
      return;
    }
    const passwordHash = await this.hasher.hash(password);
    await this.users.query(
      `INSERT INTO users (username, password_hash, role) VALUES ($1, $2, 'admin')
       ON CONFLICT ((lower(username))) DO UPDATE SET password_hash = EXCLUDED.password_hash, role = 'admin'`,
      [username, passwordHash],
    );
    this.logger.log(`admin account "${username}" is ready`);
  }
}

const usernameTaken = (username: string) =>
  new DomainError('USERNAME_TAKEN', `Username "${username}" is already taken`);
