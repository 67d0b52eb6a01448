import { CanActivate, ExecutionContext, Inject, Injectable, SetMetadata } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { RateLimitBucket, RateLimiter } from './rate-limiter.service';

/** The counters one request counts against, chosen by the route that names them. */
export type RequestBuckets = (request: FastifyRequest, config: AppConfig) => RateLimitBucket[];

const RATE_LIMIT_KEY = 'rate-limit-buckets';

/** Names the limits a route counts against; enforced by RateLimitGuard. */
export const RateLimited = (buckets: RequestBuckets) => SetMetadata(RATE_LIMIT_KEY, buckets);

/**
 * Counts the request against the buckets its route names (@RateLimited) and answers 429 when
 * one is over its limit. The routes say what they count: the login and registration limits are
 * in users/account-limits.ts; the per-user claim limit is applied by ClaimsService, after the
 * sold-out answers from memory (see there).
 */
@Injectable()
export class RateLimitGuard implements CanActivate {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly limiter: RateLimiter,
    private readonly reflector: Reflector,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const buckets = this.reflector.get<RequestBuckets | undefined>(RATE_LIMIT_KEY, context.getHandler());
    if (buckets) await this.limiter.consume(buckets(context.switchToHttp().getRequest<FastifyRequest>(), this.config));
    return true;
  }
}
