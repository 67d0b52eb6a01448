import type { QueryRunner } from 'typeorm';
import { IdempotencyKeysRepository, KeyRecord } from '../idempotency/idempotency-keys.repository';
import { storedClaimAnswer } from './claim-answer';
import { ClaimVerdict, judgeClaims } from './claim-decision';
import type { ClaimOutcome, CouponClaims, CouponSettlement } from './claim-outcome';
import { SALE_WINDOW_COLUMNS, SaleWindowRow, toSaleWindow } from './sale-window-sql';

/**
 * The body of the settlement's transaction: every statement between BEGIN and COMMIT
 * (ClaimsRepository owns those). Invariants it relies on (created by the migrations):
 *  - UNIQUE (user_id, coupon_id): a user can hold a coupon once, whatever the lock did;
 *  - CHECK (remaining_amount BETWEEN 0 AND amount) and the conditional decrement below:
 *    stock cannot go negative, so claims never exceed the amount;
 *  - the decrement and the inserts commit together, so remaining_amount = amount - rows.
 * The coupon rows are locked FOR UPDATE first, in name order (two batches sharing coupons
 * cannot deadlock), so concurrent settlements of a coupon queue in PostgreSQL even when a
 * Redlock lease has expired, and so do admin updates (which lock one row too): the window and
 * stock a batch judges cannot change before it commits.
 * A coupon must exist; then `judgeClaims` (claim-decision.ts) decides each of its claimants,
 * coupon by coupon: a batch of several coupons is several independent decisions in one
 * transaction (one round trip per statement for all of them, and one commit).
 * Whatever else must commit with the claims (one statement per batch) is written here.
 */
/** A coupon row as the batch locked it. */
interface LockedCoupon {
  id: string;
  name: string;
  remaining_amount: number;
  stock_version: number;
}

/** The rule's verdict per claimant of each coupon in the batch; null for a coupon that does not exist. */
type BatchVerdicts = (ClaimVerdict[] | null)[];

const claimKey = (couponId: string, userId: string) => `${couponId}:${userId}`;

/** Settles a batch inside its transaction: lock, judge, write the grants, keep the keys' answers. */
export async function writeSettlement(
  runner: QueryRunner,
  batch: CouponClaims[],
  keys: IdempotencyKeysRepository,
  withEvents: boolean,
): Promise<CouponSettlement[]> {
  const byName = await lockCoupons(runner, batch);
  const verdicts = await judgeBatch(runner, batch, byName);
  const claimedAt = await insertGrants(runner, batch, byName, verdicts, withEvents);
  const settlements = toSettlements(batch, byName, verdicts, claimedAt);
  await keepAnswers(runner, batch, settlements, keys);
  return settlements;
}

async function lockCoupons(runner: QueryRunner, batch: CouponClaims[]): Promise<Map<string, LockedCoupon>> {
  const coupons: LockedCoupon[] = await runner.query(
    'SELECT id, name, remaining_amount, stock_version FROM coupons WHERE name = ANY($1::text[]) ORDER BY name FOR UPDATE',
    [batch.map((b) => b.couponName)],
  );
  return new Map(coupons.map((c) => [c.name, c]));
}

async function judgeBatch(runner: QueryRunner, batch: CouponClaims[], byName: Map<string, LockedCoupon>): Promise<BatchVerdicts> {
  const found = batch.filter((b) => byName.has(b.couponName));
  // The clock is read after the row locks are held: a batch that waited behind an update judges
  // the window as it is when it may act, never as it was when it started waiting. Holders are
  // looked up per (coupon, claimant) pair: every claimant against every coupon of the batch
  // would be coupons x claimants index probes (10,000 for 50 coupons and 200 claims).
  const pairs = found.flatMap((b) => b.claimants.map((c) => ({ couponId: String(byName.get(b.couponName)!.id), userId: c.userId })));
  const judged: (SaleWindowRow & { id: string; holders: string[] })[] =
    found.length === 0
      ? []
      : await runner.query(
          `SELECT c.id, ${SALE_WINDOW_COLUMNS}, coalesce(h.holders, '{}') AS holders
       FROM coupons c
      CROSS JOIN (SELECT clock_timestamp() AS now) t
       LEFT JOIN (SELECT uc.coupon_id, array_agg(uc.user_id::text) AS holders
                    FROM unnest($2::bigint[], $3::bigint[]) AS g(coupon_id, user_id)
                    JOIN user_claims uc ON uc.coupon_id = g.coupon_id AND uc.user_id = g.user_id
                   GROUP BY uc.coupon_id) h ON h.coupon_id = c.id
      WHERE c.id = ANY($1::bigint[])`,
          [found.map((b) => byName.get(b.couponName)!.id), pairs.map((p) => p.couponId), pairs.map((p) => p.userId)],
        );
  const judgedById = new Map(judged.map((row) => [String(row.id), row]));
  return batch.map(({ couponName, claimants }) => {
    const coupon = byName.get(couponName);
    if (!coupon) return null;
    const row = judgedById.get(String(coupon.id))!;
    const userIds = claimants.map((c) => c.userId);
    return judgeClaims(userIds, { holders: new Set(row.holders), window: toSaleWindow(row), remaining: coupon.remaining_amount });
  });
}

/**
 * Writes the granted claims, their stock and (with `withEvents`) their outbox events in one
 * statement; when each was claimed, by coupon and user.
 */
async function insertGrants(
  runner: QueryRunner,
  batch: CouponClaims[],
  byName: Map<string, LockedCoupon>,
  verdicts: BatchVerdicts,
  withEvents: boolean,
): Promise<Map<string, Date>> {
  const grants = batch.flatMap(({ couponName, claimants }, i) =>
    claimants
      .filter((_, j) => verdicts[i]?.[j].kind === 'grant')
      .map((c) => ({ couponId: String(byName.get(couponName)!.id), userId: c.userId })),
  );
  const claimedAt = new Map<string, Date>();
  if (grants.length === 0) return claimedAt;
  const perCoupon = new Map<string, number>();
  for (const g of grants) perCoupon.set(g.couponId, (perCoupon.get(g.couponId) ?? 0) + 1);
  // Each coupon is decremented by its grants only if it has them (the CHECK and this condition
  // fence the stock), and only decremented coupons get rows. The same statement writes the
  // events (when they are on, $5): one claim.granted per row in claim order, then
  // coupon.sold_out for a coupon whose last unit this batch took. Under the coupon row lock,
  // so the outbox id order is the coupon's commit order (src/events/outbox.repository.ts).
  const inserted: { user_id: string; coupon_id: string; claimed_at: Date }[] = await runner.query(
    `WITH decremented AS (
       UPDATE coupons c SET remaining_amount = c.remaining_amount - w.granted, updated_at = now()
         FROM unnest($3::bigint[], $4::int[]) AS w(coupon_id, granted)
        WHERE c.id = w.coupon_id AND c.remaining_amount >= w.granted
        RETURNING c.id, c.name, c.remaining_amount),
     claimed AS (
       INSERT INTO user_claims (user_id, coupon_id)
       SELECT g.user_id, g.coupon_id
         FROM unnest($1::bigint[], $2::bigint[]) WITH ORDINALITY AS g(user_id, coupon_id, arrival)
         JOIN decremented ON decremented.id = g.coupon_id
        ORDER BY g.arrival
       RETURNING id, user_id, coupon_id, claimed_at),
     events AS (
       INSERT INTO outbox_events (event_type, coupon_id, coupon_name, payload, occurred_at)
       SELECT e.event_type, e.coupon_id, e.coupon_name, e.payload, e.occurred_at
         FROM (SELECT 'claim.granted' AS event_type, d.id AS coupon_id, d.name AS coupon_name, cl.id AS claim_id,
                      jsonb_build_object('user_id', u.username, 'claimed_at', cl.claimed_at) AS payload, cl.claimed_at AS occurred_at
                 FROM claimed cl JOIN decremented d ON d.id = cl.coupon_id JOIN users u ON u.id = cl.user_id
               UNION ALL
               SELECT 'coupon.sold_out', d.id, d.name, NULL, '{}'::jsonb, clock_timestamp()
                 FROM decremented d WHERE d.remaining_amount = 0) e
        WHERE $5::boolean
        ORDER BY e.coupon_id, e.claim_id NULLS LAST)
     SELECT user_id, coupon_id, claimed_at FROM claimed`,
    [grants.map((g) => g.userId), grants.map((g) => g.couponId), [...perCoupon.keys()], [...perCoupon.values()], withEvents],
  );
  if (inserted.length !== grants.length) {
    // Only possible if a row changed under FOR UPDATE; refuse rather than guess.
    const names = batch.map((b) => b.couponName);
    throw new Error(`claim settlement of ${names.join(', ')} inserted ${inserted.length}/${grants.length} rows`);
  }
  for (const row of inserted) claimedAt.set(claimKey(String(row.coupon_id), String(row.user_id)), row.claimed_at);
  return claimedAt;
}

function toSettlements(
  batch: CouponClaims[],
  byName: Map<string, LockedCoupon>,
  verdicts: BatchVerdicts,
  claimedAt: Map<string, Date>,
): CouponSettlement[] {
  return batch.map(({ couponName, claimants }, i): CouponSettlement => {
    const coupon = byName.get(couponName);
    if (!coupon) return { outcomes: claimants.map(() => ({ kind: 'not_found' })), couponId: null, remainingAmount: 0, stockVersion: 0 };
    const couponId = String(coupon.id);
    let granted = 0;
    const outcomes = claimants.map((claimant, j): ClaimOutcome => {
      const verdict = verdicts[i]![j];
      if (verdict.kind === 'grant') {
        granted++;
        return { kind: 'granted', claimedAt: claimedAt.get(claimKey(couponId, claimant.userId))! };
      }
      if (verdict.kind === 'needs_state') throw new Error('judgeClaims asked for facts the settlement gave it');
      return verdict;
    });
    return { outcomes, couponId, remainingAmount: coupon.remaining_amount - granted, stockVersion: coupon.stock_version };
  });
}

async function keepAnswers(
  runner: QueryRunner,
  batch: CouponClaims[],
  settlements: CouponSettlement[],
  keys: IdempotencyKeysRepository,
): Promise<void> {
  // The keys commit with the claims they answer, all of the batch in one statement: a stored
  // 200 and its user_claims row exist together or not at all. A key that holds an answer
  // already aborts the batch (a unique violation), which ClaimSettlement splits like any fence.
  await keys.insert(runner, keptAnswers(batch, settlements));
}

/**
 * The answers a settled batch keeps under its claimants' keys: one per keyed claimant whose
 * outcome decided something (storedClaimAnswer). The transaction writes exactly these, and
 * CommitConfirmation counts exactly these after a lost COMMIT.
 */
export function keptAnswers(batch: CouponClaims[], settlements: CouponSettlement[]): KeyRecord[] {
  return batch.flatMap(({ couponName, claimants }, i) =>
    claimants.flatMap((claimant, j): KeyRecord[] => {
      const answer = claimant.idempotency && storedClaimAnswer(couponName, claimant.username, settlements[i].outcomes[j]);
      return answer ? [{ userId: claimant.userId, ...claimant.idempotency!, answer }] : [];
    }),
  );
}
