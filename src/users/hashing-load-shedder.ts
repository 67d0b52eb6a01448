import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance } from 'fastify';
import { sendError } from '../common/domain-error.filter';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { requestLogFields } from '../logging/request-logging';
import { RequestBuckets } from '../rate-limit/rate-limit.guard';
import { RateLimiter } from '../rate-limit/rate-limiter.service';
import { loginBuckets, registrationBuckets } from './account-limits';
import { PasswordHasher } from './password-hasher';

/**
 * The routes that hash a password, as Fastify knows them (global prefix included), with the
 * rate-limit buckets each counts against (before the body is read: the address buckets only).
 */
export const HASHING_ROUTES = new Map<string, RequestBuckets>([
  ['/api/users/login', loginBuckets],
  ['/api/users/register', registrationBuckets],
]);

/**
 * A client address this process knows is over its login or registration limit is refused
 * (429, as RateLimitGuard would) as it arrives, without a Redis round trip (RateLimiter's
 * local denials). While the hashing queue cannot serve the client's address within its bound, logins and
 * registrations are refused (503 AUTH_BUSY) as they arrive, before their body is parsed or
 * Nest's guard, pipe and filter run: a flood
 * refused through the full path cost more CPU per refusal than a sold-out claim, so shedding
 * had to be the cheapest answer the service gives. It only refuses, and only what
 * PasswordHasher would refuse anyway; a request that gets past it is still bounded there.
 * Such answers are logged at info (one line per request is already a flood of its own): the
 * hasher warns once per interval with the count.
 */
@Injectable()
export class HashingLoadShedder implements OnModuleInit {
  private readonly logger = new Logger(HashingLoadShedder.name);
  /** Requests refused here (tests use it to see that the hook, not only the hasher, refuses). */
  answered = 0;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly adapterHost: HttpAdapterHost,
    private readonly hasher: PasswordHasher,
    private readonly limiter: RateLimiter,
  ) {}

  onModuleInit(): void {
    const fastify = this.adapterHost.httpAdapter.getInstance<FastifyInstance>();
    fastify.addHook('onRequest', (request, reply, done) => {
      const buckets = request.method === 'POST' ? HASHING_ROUTES.get(request.routeOptions.url ?? '') : undefined;
      if (!buckets) {
        done();
        return;
      }
      const limited = this.limiter.localRefusal(buckets(request, this.config));
      const refusal = limited ?? this.hasher.refusalFor(request.ip);
      if (!refusal) {
        done();
        return;
      }
      this.answered++;
      requestLogFields(request).shed = true;
      if (!limited) this.hasher.countRefusal();
      sendError(reply, refusal, this.logger);
    });
  }
}
