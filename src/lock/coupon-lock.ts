import { isLockConflict } from '../common/database-errors';
import { DomainError, lockBusy, lockUnavailable } from '../common/domain-error';
import { LockBusyError, LockUnavailableError } from './lock.errors';

/**
 * Claims of a coupon and admin updates of it take this one key, so an update never
 * interleaves with a batch of claims.
 */
export const couponLockResource = (couponName: string) => `claim:coupon:${couponName}`;

/**
 * The client's answer to a failed lock on a coupon (503, retry later), or null for other errors.
 * A wait for the coupon's row that reached lock_timeout is the same "busy": the row's holder
 * kept it (a stuck process, until PostgreSQL ends its session), nothing was written; so is a
 * transaction PostgreSQL rolled back as a deadlock or serialization failure.
 */
export function couponLockError(error: unknown, couponName: string): DomainError | null {
  if (error instanceof LockBusyError || isLockConflict(error)) return lockBusy(couponName);
  if (error instanceof LockUnavailableError) return lockUnavailable();
  return null;
}
