import type { AuthenticatedUser } from '../auth/authenticated-user';
import { IdempotencyKey, idempotencyKeyOf } from '../idempotency/idempotency-key';
import { RequestLogFields, requestLogFields } from '../logging/request-logging';
import type { ClaimCouponDto } from './dto/claim-coupon.dto';

/** The fingerprint's route name of a claim (a key reused on another route is another request). */
const CLAIM_ROUTE = 'POST /api/coupons/claim';

/** One claim as both entry points (the controller and the sold-out fast path) hand it to ClaimsService. */
export interface ClaimRequest {
  user: AuthenticatedUser;
  couponName: string;
  /** The body's `user_id`, if given: it must be the token holder's username. */
  requestedUsername?: string;
  /** The Idempotency-Key header and the fingerprint of the body it came with. */
  idempotency?: IdempotencyKey;
  /** The request's log line: the claim adds its coupon, outcome and lock wait. */
  logFields: RequestLogFields;
}

/** The claim of an authenticated request and its validated body; 400 for a malformed Idempotency-Key. */
export function claimRequestOf(user: AuthenticatedUser, body: ClaimCouponDto, request: { headers: Record<string, unknown> }): ClaimRequest {
  return {
    user,
    couponName: body.coupon_name,
    requestedUsername: body.user_id,
    idempotency: idempotencyKeyOf(request.headers, CLAIM_ROUTE, [body.coupon_name, body.user_id ?? null]),
    logFields: requestLogFields(request),
  };
}
