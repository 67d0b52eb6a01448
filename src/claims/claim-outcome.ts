import type { IdempotencyKey } from '../idempotency/idempotency-key';
import type { SaleWindow } from './claim-decision';

/**
 * The outcome of a claim, in layers with distinct names:
 *  - ClaimVerdict (claim-decision.ts): what the rule decides before anything is written;
 *  - ClaimRefusal: a final "no", from the rule, the settlement or the sold-out memory alike;
 *  - ClaimOutcome: what a claim came to in the settlement's transaction;
 *  - CouponSettlement: the outcomes of one coupon's claimants, with the stock they left;
 *  - BatchAnswer: what the batch hands a waiting claim (an outcome, or why it has none).
 */
export type ClaimRefusal = { kind: 'already_claimed' } | Exclude<SaleWindow, { kind: 'open' }> | { kind: 'sold_out' };

export type ClaimOutcome = { kind: 'granted'; claimedAt: Date } | ClaimRefusal | { kind: 'not_found' };

export interface Claimant {
  userId: string;
  username: string;
  /** Kept with the claim's answer, in the batch's transaction. */
  idempotency?: IdempotencyKey;
}

/** The claimants of one coupon in a batch, in arrival order. */
export interface CouponClaims {
  couponName: string;
  claimants: Claimant[];
}

export interface CouponSettlement {
  /** One outcome per claimant, in the order given. */
  outcomes: ClaimOutcome[];
  couponId: string | null;
  remainingAmount: number;
  stockVersion: number;
}

/** `key_taken`: the claimant's Idempotency-Key already holds an answer; nothing of its claim was written. */
export type BatchAnswer = (ClaimOutcome | { kind: 'failed'; error: unknown } | { kind: 'key_taken' }) & { lockWaitMs?: number };
