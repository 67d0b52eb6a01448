/** Another holder kept the lock through every retry. Retryable: 503 LOCK_BUSY. */
export class LockBusyError extends Error {
  override name = 'LockBusyError';
}

/** Too few Redis nodes answered to ever reach a quorum. Retryable: 503 LOCK_UNAVAILABLE. */
export class LockUnavailableError extends Error {
  override name = 'LockUnavailableError';
}
