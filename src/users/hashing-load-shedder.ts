import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance, onRequestHookHandler } from 'fastify';
import { sendError } from '../common/domain-error.filter';
import { addRouteHook } from '../common/route-hooks';
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
 * How long a refusal to a client that did not wait its Retry-After is held before it is sent.
 * A flood that ignores Retry-After resends as soon as it is answered, so a refusal costs about
 * what a sold-out claim does and 64 such requests in flight take half the event loop from 64
 * claimers; held for this long, each of its connections sends one request a second.
 */
export const EARLY_REFUSAL_HOLD_MS = 1_000;

/** Requests of one address sent together, before its first refusal could reach it, are not early. */
const EARLY_GRACE_MS = 250;
/** Addresses whose last AUTH_BUSY is remembered; past it the oldest are forgotten. */
const MAX_TOLD_ADDRESSES = 100_000;

/**
 * A client address this process knows is over its login or registration limit is refused
 * (429, as RateLimitGuard would) as it arrives, without a Redis round trip (RateLimiter's
 * local denials). While the hashing queue cannot serve the client's address within its
 * bound, logins and registrations are refused (503 AUTH_BUSY) as they arrive. Both happen
 * before the body is parsed or Nest's guard, pipe and filter run: a flood refused through the
 * full path cost more CPU per refusal than a sold-out claim. It only refuses, and only what
 * RateLimitGuard or PasswordHasher would refuse anyway; a request that gets past it is still
 * bounded there. A client that comes back before its Retry-After (every request past a local
 * denial, or an address back before its promised time) gets its refusal EARLY_REFUSAL_HOLD_MS
 * later. Such answers are logged at info (one line per request is already a flood of its
 * own): the hasher warns once per interval with the count.
 */
@Injectable()
export class HashingLoadShedder implements OnModuleInit {
  private readonly logger = new Logger(HashingLoadShedder.name);
  /** Requests refused here (tests use it to see that the hook, not only the hasher, refuses). */
  answered = 0;
  /** Address -> when its last AUTH_BUSY was sent and until when its Retry-After told it to wait. */
  private readonly told = new Map<string, { at: number; until: number }>();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly adapterHost: HttpAdapterHost,
    private readonly hasher: PasswordHasher,
    private readonly limiter: RateLimiter,
  ) {}

  onModuleInit(): void {
    const fastify = this.adapterHost.httpAdapter.getInstance<FastifyInstance>();
    // On the hashing routes only: every other request never meets this hook.
    addRouteHook(
      fastify,
      (route) => route.method === 'POST' && HASHING_ROUTES.has(route.url),
      'onRequest',
      (route) => {
        const buckets = HASHING_ROUTES.get(route.url)!;
        const shedHashingLoad: onRequestHookHandler = (request, reply, done) => {
          // Past a local denial the client was already refused: every such request is early.
          const limited = this.limiter.localRefusal(buckets(request, this.config));
          const refusal = limited ?? this.hasher.refusalFor(request.ip);
          if (!refusal) {
            done();
            return;
          }
          this.answered++;
          requestLogFields(request).shed = true;
          const early = limited !== null || this.comesBackEarly(request.ip, refusal.retryAfterSeconds ?? 1);
          if (!limited) this.hasher.countRefusal();
          if (!early) sendError(reply, refusal, this.logger);
          else setTimeout(() => sendError(reply, refusal, this.logger), EARLY_REFUSAL_HOLD_MS);
        };
        return shedHashingLoad;
      },
    );
  }

  /** Whether `address` is back before the Retry-After of its last AUTH_BUSY; else remembers the one it gets now. */
  private comesBackEarly(address: string, retryAfterSeconds: number): boolean {
    const now = performance.now();
    const last = this.told.get(address);
    if (last && now < last.until) return now - last.at > EARLY_GRACE_MS;
    // Refused again right as its last Retry-After ran out: it kept sending, so no grace this time.
    const kept = last !== undefined && now - last.until < EARLY_GRACE_MS;
    this.told.delete(address);
    this.told.set(address, { at: kept ? -Infinity : now, until: now + retryAfterSeconds * 1000 });
    if (this.told.size > MAX_TOLD_ADDRESSES) this.told.delete(this.told.keys().next().value as string);
    return false;
  }
}
