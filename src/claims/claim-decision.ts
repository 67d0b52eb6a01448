import type { ClaimRefusal } from './claim-outcome';

export type SaleWindow = { kind: 'open' } | { kind: 'not_started'; secondsUntilStart: number } | { kind: 'ended' };

/** The rule's answer before anything is written (claim-outcome.ts names the layers after it). */
export type ClaimVerdict =
  | { kind: 'grant' }
  | ClaimRefusal
  /** A fact the rule needs at this step was not given: the caller must read it and ask again. */
  | { kind: 'needs_state' };

/**
 * What a claim is judged on. `window` and `remaining` may be left out by a caller that has not
 * read them (the sold-out memory before its stock read): a claimant whose answer depends on a
 * missing fact gets `needs_state`, one whose answer does not (a holder) gets it anyway.
 */
export interface ClaimFacts {
  holders: ReadonlySet<string>;
  window?: SaleWindow;
  remaining?: number;
}

/**
 * The one claim rule, for the settlement's transaction and for the sold-out memory alike.
 * Claimants are judged in arrival order: a holder is ALREADY_CLAIMED (claims are never removed,
 * so this needs no fresh read); then the sale window; then stock, first come first served. A
 * user asking twice in one batch is ALREADY_CLAIMED the second time if the first was granted.
 */
export function judgeClaims(userIds: readonly string[], facts: ClaimFacts): ClaimVerdict[] {
  // Not a copy of `holders`: the sold-out memory passes sets of up to SOLD_OUT_MEMORY_LIMIT ids.
  const grantedHere = new Set<string>();
  return userIds.map((userId): ClaimVerdict => {
    if (facts.holders.has(userId) || grantedHere.has(userId)) return { kind: 'already_claimed' };
    if (facts.window === undefined) return { kind: 'needs_state' };
    if (facts.window.kind !== 'open') return facts.window;
    if (facts.remaining === undefined) return { kind: 'needs_state' };
    if (grantedHere.size >= facts.remaining) return { kind: 'sold_out' };
    grantedHere.add(userId);
    return { kind: 'grant' };
  });
}
