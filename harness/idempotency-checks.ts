import { ClaimRecord } from './claim-runner';
import { CheckResult } from './check-result';
import { withDatabase } from './database-checks';

/** Per keyed claim: its user_claims rows for the coupon, and what its key holds (null: nothing). */
const KEYED_CLAIMS_SQL = `
  SELECT g.n::int AS n, k.status_code, k.response_body->>'claimed_at' AS stored_claimed_at,
         (SELECT count(*)::int FROM user_claims uc JOIN coupons c ON c.id = uc.coupon_id
           WHERE uc.user_id = u.id AND c.name = g.coupon) AS rows
    FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS g(username, coupon, key, n)
    JOIN users u ON u.username = g.username
    LEFT JOIN idempotency_keys k ON k.user_id = u.id AND k.key = g.key`;

/**
 * What a run with an Idempotency-Key on every claim must show: how many answers were replays, and
 * (with the database) that every granted key has exactly one claim row and holds that same 200,
 * and that no key holds a 200 its client never saw (a grant lost to a retry). Nothing for a run
 * without keys.
 */
export async function checkKeyedClaims(databaseUrl: string | null, records: ClaimRecord[]): Promise<CheckResult[]> {
  const keyed = records.filter((r) => r.key !== null);
  if (keyed.length === 0) return [];
  const replays = keyed.filter((r) => r.replayed).length;
  const checks: CheckResult[] = [
    {
      name: 'replays counted',
      passed: true,
      detail: `${replays} final answers were replays of their key's first answer; ${keyed.reduce((sum, r) => sum + r.retries, 0)} retries with a key`,
    },
  ];
  if (!databaseUrl) return checks;
  const rows = await withDatabase(
    databaseUrl,
    async (db) =>
      (await db.query(KEYED_CLAIMS_SQL, [keyed.map((r) => r.username), keyed.map((r) => r.coupon), keyed.map((r) => r.key)])).rows as {
        n: number;
        status_code: number | null;
        stored_claimed_at: string | null;
        rows: number;
      }[],
  );
  const byRecord = new Map(rows.map((row) => [row.n - 1, row]));
  let badGrants = 0;
  let lostGrants = 0;
  keyed.forEach((record, i) => {
    const row = byRecord.get(i);
    if (record.status === 200) {
      if (!row || row.rows !== 1 || row.status_code !== 200 || row.stored_claimed_at !== record.claimedAt) badGrants++;
    } else if (row?.status_code === 200) {
      lostGrants++;
    }
  });
  const granted = keyed.filter((r) => r.status === 200).length;
  checks.push(
    {
      name: 'exactly one row per granted key',
      passed: badGrants === 0,
      detail: `${granted - badGrants} of ${granted} granted keys have one claim row and hold the same 200 (claimed_at included)`,
    },
    {
      name: 'no grant unknown to its client',
      passed: lostGrants === 0,
      detail: `${lostGrants} keys hold a 200 whose client's last answer was not a 200`,
    },
  );
  return checks;
}
