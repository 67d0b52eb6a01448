import { CanActivate, ExecutionContext, Inject, Injectable, SetMetadata } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { AuthenticatedRequest } from '../auth/jwt-auth.guard';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { USERNAME_PATTERN } from '../users/dto/credentials.dto';
import { RateLimitBucket, RateLimiter } from './rate-limiter.service';

export type RateLimitPolicy = 'login' | 'registration';

const RATE_LIMIT_KEY = 'rate-limit-policy';

/** Names the limits a route counts against; enforced by RateLimitGuard. */
export const RateLimited = (policy: RateLimitPolicy) => SetMetadata(RATE_LIMIT_KEY, policy);

/**
 * login: per username and per client address (Fastify's request.ip, which honours
 * X-Forwarded-For only as far as TRUST_PROXY allows). registration: per client address, the
 * same way. The per-user claim limit is applied by ClaimsService, after the sold-out answers
 * from memory (see there).
 */
@Injectable()
export class RateLimitGuard implements CanActivate {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly limiter: RateLimiter,
    private readonly reflector: Reflector,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const policy = this.reflector.get<RateLimitPolicy | undefined>(RATE_LIMIT_KEY, context.getHandler());
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    if (policy === 'login') await this.limiter.consume(this.loginBuckets(request));
    if (policy === 'registration') await this.limiter.consume(this.registrationBuckets(request));
    return true;
  }

  private registrationBuckets(request: AuthenticatedRequest): RateLimitBucket[] {
    const { REGISTRATION_RATE_LIMIT_PER_ADDRESS: limit, REGISTRATION_RATE_LIMIT_WINDOW_MS: windowMs } = this.config;
    return [{ key: `registration:address:${request.ip}`, limit, windowMs }];
  }

  private loginBuckets(request: AuthenticatedRequest): RateLimitBucket[] {
    const windowMs = this.config.LOGIN_RATE_LIMIT_WINDOW_MS;
    const buckets = [{ key: `login:address:${request.ip}`, limit: this.config.LOGIN_RATE_LIMIT_PER_ADDRESS, windowMs }];
    // Only a well-formed username gets a counter: anything else is refused by validation anyway,
    // and attacker-chosen junk must not become Redis keys.
    const username = (request.body as { username?: unknown } | undefined)?.username;
    if (typeof username === 'string' && USERNAME_PATTERN.test(username)) {
      // One counter per name in any case: varying the case must not buy more guesses.
      buckets.push({ key: `login:username:${username.toLowerCase()}`, limit: this.config.LOGIN_RATE_LIMIT_PER_USERNAME, windowMs });
    }
    return buckets;
  }
}
