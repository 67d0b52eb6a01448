import { ClaimFacts, ClaimVerdict, SaleWindow, judgeClaims } from './claim-decision';

const OPEN: SaleWindow = { kind: 'open' };
const NOT_STARTED: SaleWindow = { kind: 'not_started', secondsUntilStart: 30 };
const ENDED: SaleWindow = { kind: 'ended' };

const GRANT: ClaimVerdict = { kind: 'grant' };
const HELD: ClaimVerdict = { kind: 'already_claimed' };
const SOLD_OUT: ClaimVerdict = { kind: 'sold_out' };
const NEEDS: ClaimVerdict = { kind: 'needs_state' };

const facts = (holders: string[], window?: SaleWindow, remaining?: number): ClaimFacts => ({
  holders: new Set(holders),
  window,
  remaining,
});

describe('judgeClaims: holder, then sale window, then stock, in arrival order', () => {
  // [what, claimants in arrival order, facts, verdicts]
  const table: [string, string[], ClaimFacts, ClaimVerdict[]][] = [
    // holder first: whatever the window and the stock say
    ['holder, window open, stock enough', ['h'], facts(['h'], OPEN, 5), [HELD]],
    ['holder, window open, stock 0', ['h'], facts(['h'], OPEN, 0), [HELD]],
    ['holder, window not started', ['h'], facts(['h'], NOT_STARTED, 5), [HELD]],
    ['holder, window ended', ['h'], facts(['h'], ENDED, 0), [HELD]],
    ['holder, no window or stock read yet', ['h'], facts(['h']), [HELD]],
    // then the window
    ['not started, stock enough', ['u'], facts([], NOT_STARTED, 5), [NOT_STARTED]],
    ['not started, stock 0', ['u'], facts([], NOT_STARTED, 0), [NOT_STARTED]],
    ['ended, stock enough', ['u'], facts([], ENDED, 5), [ENDED]],
    ['ended, stock 0', ['u'], facts([], ENDED, 0), [ENDED]],
    // then stock
    ['open, stock 0', ['u'], facts([], OPEN, 0), [SOLD_OUT]],
    ['open, stock enough for the batch', ['u', 'v', 'w'], facts([], OPEN, 3), [GRANT, GRANT, GRANT]],
    ['open, stock less than the batch: first come first served', ['u', 'v', 'w'], facts([], OPEN, 2), [GRANT, GRANT, SOLD_OUT]],
    ['holders in the batch take no stock', ['h', 'u', 'v'], facts(['h'], OPEN, 1), [HELD, GRANT, SOLD_OUT]],
    // duplicates inside one batch
    ['a user twice in a batch: granted, then already claimed', ['u', 'u'], facts([], OPEN, 5), [GRANT, HELD]],
    ['a duplicate takes no stock of its own', ['u', 'u', 'v'], facts([], OPEN, 2), [GRANT, HELD, GRANT]],
    ['a duplicate of a refused user is refused the same way', ['u', 'v', 'v'], facts([], OPEN, 1), [GRANT, SOLD_OUT, SOLD_OUT]],
    ['duplicates in a closed window', ['u', 'u'], facts([], ENDED, 5), [ENDED, ENDED]],
    ['a holder twice in a batch', ['h', 'h'], facts(['h'], OPEN, 5), [HELD, HELD]],
    // facts not given: only a holder can be answered
    ['no window read: not a holder needs state', ['u'], facts([]), [NEEDS]],
    ['window open but no stock read', ['u'], facts([], OPEN), [NEEDS]],
    ['window closed needs no stock read', ['u'], facts([], ENDED), [ENDED]],
  ];

  it.each(table)('%s', (_what, claimants, given, expected) => {
    expect(judgeClaims(claimants, given)).toEqual(expected);
  });

  it('never grants more than the stock, whatever the batch', () => {
    for (let remaining = 0; remaining <= 4; remaining++) {
      const batch = ['a', 'b', 'a', 'c', 'd', 'b', 'e'];
      const grants = judgeClaims(batch, facts(['c'], OPEN, remaining)).filter((v) => v.kind === 'grant');
      expect(grants.length).toBe(Math.min(remaining, 4));
    }
  });

  it('does not change the holder set it is given', () => {
    const given = facts([], OPEN, 1);
    judgeClaims(['u'], given);
    expect([...given.holders]).toEqual([]);
  });
});
