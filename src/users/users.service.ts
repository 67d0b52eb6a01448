import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { AccessToken, AuthService } from '../auth/auth.service';
import type { Role } from '../auth/authenticated-user';
import { DeletedUsersRegistry } from '../auth/deleted-users.registry';
import { isForeignKeyViolation, isUniqueViolation } from '../common/database-errors';
import { DomainError } from '../common/domain-error';
import { sameUsername } from '../common/identifiers';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { INTERNAL_ADDRESS, PasswordHasher } from './password-hasher';
import { User } from './user.entity';
import { UsersRepository } from './users.repository';

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
    private readonly users: UsersRepository,
    private readonly hasher: PasswordHasher,
    private readonly auth: AuthService,
    private readonly deletedUsers: DeletedUsersRegistry,
  ) {}

  /** `clientAddress` is the caller's address (request.ip): its hash waits in that address's line. */
  async register(username: string, password: string, clientAddress: string): Promise<UserView> {
    // The configured admin name is reserved, in any case, even while no admin password is set.
    if (sameUsername(username, this.config.ADMIN_USERNAME)) throw usernameTaken(username);
    const passwordHash = await this.hasher.hash(password, clientAddress);
    try {
      return toUserView(await this.users.insert(username, passwordHash, 'user'));
    } catch (error) {
      // users_username_lower_key: the name is taken in some case.
      if (isUniqueViolation(error)) throw usernameTaken(username);
      throw error;
    }
  }

  async login(username: string, password: string, clientAddress: string): Promise<AccessToken> {
    const user = await this.users.findWithHash(username);
    // Unknown users still pay one bcrypt compare, so timing does not reveal who exists.
    const valid = await this.hasher.verify(password, user?.passwordHash, clientAddress);
    if (!user || !valid) {
      throw new DomainError('INVALID_CREDENTIALS', 'Invalid username or password');
    }
    return this.auth.issue(user);
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
    let deletedId: string | undefined;
    try {
      deletedId = await this.users.deleteAndRecord(username);
    } catch (error) {
      if (isForeignKeyViolation(error)) {
        throw new DomainError('USER_HAS_CLAIMS', `User "${username}" holds coupons and cannot be deleted`);
      }
      throw error;
    }
    if (deletedId === undefined) throw new DomainError('USER_NOT_FOUND', `User "${username}" does not exist`);
    this.deletedUsers.add(deletedId);
    this.logger.log(`user "${username}" deleted by "${requestedBy}"`);
  }

  /** The caller's own profile; a token that outlived its user is no longer valid. */
  async profile(id: string): Promise<UserView> {
    const user = await this.users.findById(id);
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
    await this.users.upsertAdmin(username, await this.hasher.hash(password, INTERNAL_ADDRESS));
    this.logger.log(`admin account "${username}" is ready`);
  }
}

const usernameTaken = (username: string) => new DomainError('USERNAME_TAKEN', `Username "${username}" is already taken`);
