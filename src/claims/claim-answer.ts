import { DomainError, alreadyClaimed, saleEnded, saleNotStarted, soldOut } from '../common/domain-error';
import { StoredAnswer, errorAnswer } from '../idempotency/idempotency-key';
import type { ClaimOutcome, ClaimRefusal } from './claim-outcome';

export interface ClaimView {
  coupon_name: string;
  user_id: string;
  claimed_at: string;
}

/** The error a refusal is answered with, from the batch and the sold-out memory alike. */
export function refusalError(couponName: string, refusal: ClaimRefusal): DomainError {
  switch (refusal.kind) {
    case 'already_claimed':
      return alreadyClaimed(couponName);
    case 'not_started':
      return saleNotStarted(couponName, refusal.secondsUntilStart);
    case 'ended':
      return saleEnded(couponName);
    case 'sold_out':
      return soldOut(couponName);
  }
}

/**
 * The answer an Idempotency-Key keeps for an outcome: a grant or a final refusal. Null for what
 * decided nothing for good: a coupon that does not exist, and SALE_NOT_STARTED (its retry after
 * Retry-After must be judged again, not told "not started" for the key's lifetime).
 */
export function storedClaimAnswer(couponName: string, username: string, outcome: ClaimOutcome): StoredAnswer | null {
  switch (outcome.kind) {
    case 'granted': {
      const view: ClaimView = { coupon_name: couponName, user_id: username, claimed_at: outcome.claimedAt.toISOString() };
      return { status: 200, body: view };
    }
    case 'not_found':
    case 'not_started':
      return null;
    default:
      return errorAnswer(refusalError(couponName, outcome));
  }
}
