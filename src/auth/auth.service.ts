import { Inject, Injectable } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import { JsonWebTokenError, TokenExpiredError } from 'jsonwebtoken';
import { DomainError } from '../common/domain-error';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { AuthenticatedUser, TokenPayload } from './authenticated-user';
import { DeletedUsersRegistry } from './deleted-users.registry';
import { VerifiedTokenCache } from './verified-token-cache';

export interface AccessToken {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
}

@Injectable()
export class AuthService {
  private readonly verifiedTokens: VerifiedTokenCache;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly jwt: JwtService,
    private readonly deletedUsers: DeletedUsersRegistry,
  ) {
    this.verifiedTokens = new VerifiedTokenCache(config.JWT_VERIFIED_CACHE_SIZE);
  }

  /** A bearer token for a user whose password was just checked. */
  async issue(user: AuthenticatedUser): Promise<AccessToken> {
    const payload: TokenPayload = { sub: user.id, username: user.username, role: user.role };
    return {
      access_token: await this.jwt.signAsync(payload),
      token_type: 'Bearer',
      expires_in: this.config.JWT_EXPIRES_IN,
    };
  }

  /** The caller behind an Authorization header ("Bearer <token>"), or the 401 that explains why not. */
  authenticate(header: string | undefined): AuthenticatedUser {
    if (!header) throw new DomainError('UNAUTHORIZED', 'A bearer token is required');
    const match = /^Bearer ([^\s]+)$/i.exec(header);
    if (!match) throw new DomainError('TOKEN_INVALID', 'The Authorization header must be "Bearer <token>"');
    return this.verify(match[1]);
  }

  /** Verifies a bearer token (HS256 only) and returns its user, unless that user has been deleted. */
  verify(token: string): AuthenticatedUser {
    let payload: TokenPayload | undefined = this.verifiedTokens.get(token);
    try {
      if (payload === undefined) {
        payload = this.jwt.verify<TokenPayload>(token, { algorithms: ['HS256'] });
        this.verifiedTokens.remember(token, payload);
      }
    } catch (error) {
      if (error instanceof TokenExpiredError) {
        throw new DomainError('TOKEN_EXPIRED', 'The access token has expired');
      }
      // A payload segment that decodes to broken JSON makes jws throw a bare SyntaxError: the
      // client's fault too. Anything else (a misconfigured key, say) is the server's and a 500.
      if (error instanceof JsonWebTokenError || error instanceof SyntaxError) {
        throw new DomainError('TOKEN_INVALID', 'The access token is invalid');
      }
      throw error;
    }
    if (typeof payload.sub !== 'string' || typeof payload.username !== 'string') {
      throw new DomainError('TOKEN_INVALID', 'The access token is invalid');
    }
    // An in-memory set, not a query: every claim passes through here.
    if (this.deletedUsers.has(payload.sub)) {
      throw new DomainError('TOKEN_INVALID', 'The user of this token no longer exists');
    }
    return { id: payload.sub, username: payload.username, role: payload.role === 'admin' ? 'admin' : 'user' };
  }
}
