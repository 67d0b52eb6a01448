import { Injectable, Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { isDatabaseUnavailable } from '../common/database-errors';
import type { CouponClaims, CouponSettlement } from './claim-outcome';
import { keptAnswers } from './claim-transaction';

/**
 * The COMMIT's answer was lost and its outcome could not be learned (the database stayed out of
 * reach, or the session that sent it could not be ended and seen gone): the claims may be in.
 */
export class CommitOutcomeUnknownError extends Error {
  override name = 'CommitOutcomeUnknownError';
}

/** Learns whether a settlement whose COMMIT got no answer is in the database. */
@Injectable()
export class CommitConfirmation {
  private readonly logger = new Logger(CommitConfirmation.name);

  constructor(private readonly dataSource: DataSource) {}

  /**
   * The COMMIT got no answer: the claims are in or not, and the server may still be committing
   * (a slow disk, a synchronous standby away). So the session that sent it is ended first and
   * seen gone (a backend finishes a commit before it exits); only then are the rows counted.
   * A session that will not go (or may not be ended: pg_terminate_backend refused), or a
   * database that cannot be asked, leaves the outcome unknown: CommitOutcomeUnknownError
   * (503 CLAIM_OUTCOME_UNKNOWN; a retry with the same Idempotency-Key learns the truth).
   */
  async confirmCommit(
    batch: CouponClaims[],
    settlements: CouponSettlement[],
    cause: Error,
    sessionPid?: number,
  ): Promise<CouponSettlement[]> {
    const granted = batch.flatMap(({ claimants }, i) =>
      claimants
        .filter((_, j) => settlements[i].outcomes[j].kind === 'granted')
        .map((c) => ({ userId: c.userId, couponId: settlements[i].couponId! })),
    );
    // The keys the transaction wrote, refusals' included: a batch of refusals alone still
    // committed (or not) its keys' answers, and a retry of those keys must find what was answered.
    const keyed = keptAnswers(batch, settlements);
    const written = granted.length + keyed.length;
    const names = batch.map((b) => b.couponName).join(', ');
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        if (sessionPid !== undefined && !(await this.sessionEnded(sessionPid))) continue;
        const [{ found }]: { found: number }[] = await this.dataSource.query(
          `SELECT (SELECT count(*)::int
                     FROM user_claims uc JOIN unnest($1::bigint[], $2::bigint[]) AS g(user_id, coupon_id)
                       ON uc.user_id = g.user_id AND uc.coupon_id = g.coupon_id)
                + (SELECT count(*)::int
                     FROM idempotency_keys k JOIN unnest($3::bigint[], $4::text[]) AS w(user_id, key)
                       ON k.user_id = w.user_id AND k.key = w.key) AS found`,
          [granted.map((g) => g.userId), granted.map((g) => g.couponId), keyed.map((k) => k.userId), keyed.map((k) => k.key)],
        );
        if (found === written) {
          this.logger.warn(`commit of ${names} reported "${cause.message}" but what it wrote is in; answering as settled`);
          return settlements;
        }
        if (found === 0) throw cause;
        // Partial cannot happen in one transaction; anything else is a bug worth shouting about.
        throw new Error(`partial commit seen for ${names}: ${found}/${written} rows`);
      } catch (error) {
        if (error === cause) throw error;
        if (!isDatabaseUnavailable(error)) {
          this.logger.error(`could not confirm the commit of a claim batch for ${names}: ${(error as Error).message}`);
          throw new CommitOutcomeUnknownError(`commit of ${names} unconfirmed: ${(error as Error).message}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 200 * (attempt + 1)));
      }
    }
    this.logger.error(`could not confirm the commit of a claim batch for ${names}: ${cause.message}`);
    throw new CommitOutcomeUnknownError(`commit of ${names} unconfirmed: ${cause.message}`);
  }

  /**
   * Ends the session `pid` if it is still there (only one of this service's own sessions: the
   * same application_name) and waits up to a second to see it gone.
   */
  private async sessionEnded(pid: number): Promise<boolean> {
    await this.dataSource.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
        WHERE pid = $1 AND application_name = current_setting('application_name')`,
      [pid],
    );
    for (let look = 0; look < 10; look++) {
      const rows: unknown[] = await this.dataSource.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [pid]);
      if (rows.length === 0) return true;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return false;
  }
}
