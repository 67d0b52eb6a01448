/**
 * Classifies errors thrown by pg/TypeORM. Connection-level failures mean "retry later"
 * (503 DATABASE_UNAVAILABLE); constraint violations are the database fence speaking.
 */
const CONNECTION_ERROR_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EHOSTUNREACH',
  '57P01', // admin_shutdown (pg_terminate_backend)
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '57P05', // idle_session_timeout
  '25P03', // idle_in_transaction_session_timeout: this process stalled inside a transaction
  '53300', // too_many_connections
  '08000',
  '08001',
  '08003',
  '08004',
  '08006',
  '57014', // query_canceled (statement_timeout): the database is too slow to answer
]);

const CONNECTION_MESSAGES = [
  'Connection terminated',
  'timeout exceeded when trying to connect',
  'Client has encountered a connection error',
  // The session was ended (e.g. idle-in-transaction timeout) while this process was not looking.
  'Client was closed and is not queryable',
  'Connection is closed',
  'terminating connection',
  'Query read timeout',
];

function codeOf(error: unknown): string | undefined {
  const candidate = error as { code?: unknown; driverError?: { code?: unknown } };
  const code = candidate?.code ?? candidate?.driverError?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * The session under a transaction died (PostgreSQL ended it, or its connection broke) and
 * TypeORM gave the query runner back, so the next statement met "runner already released".
 */
export class SessionLostError extends Error {
  override name = 'SessionLostError';
  readonly code = '08006'; // connection_failure
}

export function isDatabaseUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = codeOf(error);
  if (code && CONNECTION_ERROR_CODES.has(code)) return true;
  if (error.name === 'CannotConnectAlreadyConnectedError') return false;
  return CONNECTION_MESSAGES.some((text) => error.message.includes(text));
}

/**
 * PostgreSQL gave up a statement over a row lock and rolled its transaction back, so nothing of
 * it was written: lock_timeout (the coupon's row stayed held past DATABASE_LOCK_TIMEOUT_MS),
 * deadlock_detected, serialization_failure. Each is worth a retry, never a 500.
 */
const LOCK_CONFLICT_CODES = new Set([
  '55P03', // lock_not_available (lock_timeout)
  '40P01', // deadlock_detected
  '40001', // serialization_failure
]);
export const isLockConflict = (error: unknown) => LOCK_CONFLICT_CODES.has(codeOf(error) ?? '');
export const isUniqueViolation = (error: unknown) => codeOf(error) === '23505';
export const isCheckViolation = (error: unknown) => codeOf(error) === '23514';
export const isForeignKeyViolation = (error: unknown) => codeOf(error) === '23503';

/** The constraint a violation names (pg's `constraint`, kept by TypeORM's QueryFailedError). */
export function constraintOf(error: unknown): string | undefined {
  const candidate = error as { constraint?: unknown; driverError?: { constraint?: unknown } };
  const constraint = candidate?.constraint ?? candidate?.driverError?.constraint;
  return typeof constraint === 'string' ? constraint : undefined;
}
