import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance, FastifyRequest, preHandlerHookHandler } from 'fastify';
import { AuthService } from '../auth/auth.service';
import { DomainError } from '../common/domain-error';
import { sendError } from '../common/domain-error.filter';
import { addRouteHook } from '../common/route-hooks';
import { previouslyValidatedBody } from '../common/validation.pipe';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { Replay } from '../idempotency/idempotency-key';
import { sendAnswer } from '../idempotency/idempotency-http';
import { claimRequestOf } from './claim-request';
import { ClaimsService } from './claims.service';
import { ClaimCouponDto } from './dto/claim-coupon.dto';

/** Route config (`@RouteConfig(CLAIM_FAST_PATH_ROUTE)`) that marks the route the fast path may answer. */
export const CLAIM_FAST_PATH_ROUTE = { claimFastPath: true } as const;

/**
 * What the fast path does in place of the claim route's Nest pipeline. A test compares this
 * with the guards, pipes, interceptors and filters the route really has, so a new one added to
 * the controller fails the build's tests until the fast path applies it too.
 */
export const FAST_PATH_APPLIES = {
  guards: ['JwtAuthGuard'],
  pipes: ['RequestValidationPipe'],
  interceptors: [] as string[],
  filters: ['DomainErrorFilter'],
} as const;

/**
 * Claims of a coupon this process knows is sold out, answered before Nest's router, guard, pipe
 * and exception handler (measured in performance.md). It is the same answer from the same code:
 * AuthService.authenticate (what JwtAuthGuard calls), a body the validation pipe has already
 * accepted, the same ClaimRequest the controller builds (claimRequestOf: the Idempotency-Key
 * included), ClaimsService.answerFromMemory (what ClaimsService.claim calls first), and
 * sendError / sendAnswer (what the exception filter and the controller call). Anything else (no or bad token, a body not
 * validated before, a coupon not known sold out, any failure) falls through untouched to the
 * controller. It only ever refuses: a grant always takes the lock and the database.
 */
@Injectable()
export class ClaimFastPath implements OnModuleInit {
  private readonly logger = new Logger(ClaimFastPath.name);
  /** Claims answered here (tests use it to see that the path is taken). */
  answered = 0;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly adapterHost: HttpAdapterHost,
    private readonly auth: AuthService,
    private readonly claims: ClaimsService,
  ) {}

  onModuleInit(): void {
    if (!this.config.CLAIM_FAST_PATH) return;
    const fastify = this.adapterHost.httpAdapter.getInstance<FastifyInstance>();
    // On the routes marked CLAIM_FAST_PATH_ROUTE only: every other request never meets this hook.
    addRouteHook(
      fastify,
      (route) => (route.config as Record<string, unknown> | undefined)?.claimFastPath === true,
      'preHandler',
      () => this.answerSoldOutClaim,
    );
  }

  private readonly answerSoldOutClaim: preHandlerHookHandler = (request, reply, done) => {
    this.answer(request)
      .then((answer) => {
        if (!answer) return done();
        this.answered++;
        if (answer instanceof Replay) sendAnswer(reply, 200, answer);
        else sendError(reply, answer, this.logger);
      })
      // Any failure, even while answering, leaves the request to the controller unless a reply went out.
      .catch(() => {
        if (!reply.sent) done();
      });
  };

  private async answer(request: FastifyRequest): Promise<DomainError | Replay | null> {
    // While the coupon still sells, every claim goes to the controller: check that first, on the
    // raw body (used only to skip, never trusted), so a claim that may be granted pays no
    // authentication or body lookup twice.
    if (!this.claims.knowsSoldOut((request.body as { coupon_name?: unknown } | null)?.coupon_name)) return null;
    try {
      const user = this.auth.authenticate(request.headers.authorization);
      const body = previouslyValidatedBody(ClaimCouponDto, request.body);
      if (!body) return null;
      return await this.claims.answerFromMemory(claimRequestOf(user, body, request));
    } catch {
      // Whatever went wrong (a bad token, a body JSON.stringify chokes on, a malformed key), the controller's
      // path answers it as it always has.
      return null;
    }
  }
}
