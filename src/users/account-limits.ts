import type { FastifyRequest } from 'fastify';
import { USERNAME_PATTERN } from '../common/identifiers';
import { AppConfig } from '../config/app-config';
import type { RateLimitBucket } from '../rate-limit/rate-limiter.service';

/**
 * The limits of the account routes. The client address is Fastify's request.ip, which honours
 * X-Forwarded-For only as far as TRUST_PROXY allows.
 */

/** Registration: per client address. */
export function registrationBuckets(request: FastifyRequest, config: AppConfig): RateLimitBucket[] {
  const { REGISTRATION_RATE_LIMIT_PER_ADDRESS: limit, REGISTRATION_RATE_LIMIT_WINDOW_MS: windowMs } = config;
  return [{ key: `registration:address:${request.ip}`, limit, windowMs }];
}

/** Login: per client address, and per username. */
export function loginBuckets(request: FastifyRequest, config: AppConfig): RateLimitBucket[] {
  const windowMs = config.LOGIN_RATE_LIMIT_WINDOW_MS;
  const buckets = [{ key: `login:address:${request.ip}`, limit: config.LOGIN_RATE_LIMIT_PER_ADDRESS, windowMs }];
  // Only a well-formed username gets a counter: anything else is refused by validation anyway,
  // and attacker-chosen junk must not become Redis keys.
  const username = (request.body as { username?: unknown } | undefined)?.username;
  if (typeof username === 'string' && USERNAME_PATTERN.test(username)) {
    // One counter per name in any case: varying the case must not buy more guesses.
    buckets.push({ key: `login:username:${username.toLowerCase()}`, limit: config.LOGIN_RATE_LIMIT_PER_USERNAME, windowMs });
  }
  return buckets;
}
