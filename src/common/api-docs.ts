import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional, ApiResponse } from '@nestjs/swagger';
import { ERROR_STATUS, ErrorCode } from './domain-error';

/** The contract's error body, as OpenAPI shows it. */
export class ErrorResponse {
  @ApiProperty({ example: 409 })
  statusCode: number;

  @ApiProperty({ enum: Object.keys(ERROR_STATUS), example: 'SOLD_OUT' })
  code: ErrorCode;

  @ApiProperty({ example: 'Coupon "FLASH50" is sold out' })
  message: string;

  @ApiPropertyOptional({
    description: 'Per-field problems of a VALIDATION_FAILED answer',
    type: 'array',
    items: {
      type: 'object',
      properties: { field: { type: 'string' }, problems: { type: 'array', items: { type: 'string' } } },
      required: ['field', 'problems'],
    },
  })
  details?: { field: string; problems: string[] }[];
}

const EXAMPLE_MESSAGE: Partial<Record<ErrorCode, string>> = {
  VALIDATION_FAILED: 'coupon_name: coupon_name must be 1-64 characters of [A-Za-z0-9_-]',
  UNAUTHORIZED: 'A bearer token is required',
  INVALID_CREDENTIALS: 'Invalid username or password',
  TOKEN_INVALID: 'The access token is invalid',
  TOKEN_EXPIRED: 'The access token has expired',
  FORBIDDEN: 'Forbidden',
  USER_MISMATCH: 'user_id must be the username of the token holder',
  COUPON_NOT_FOUND: 'Coupon "FLASH50" does not exist',
  USERNAME_TAKEN: 'Username "alice" is already taken',
  COUPON_EXISTS: 'Coupon "FLASH50" already exists',
  ALREADY_CLAIMED: 'You already hold coupon "FLASH50"',
  SOLD_OUT: 'Coupon "FLASH50" is sold out',
  PAYLOAD_TOO_LARGE: 'Request body is too large',
  LOCK_BUSY: 'Coupon "FLASH50" is busy; retry shortly',
  LOCK_UNAVAILABLE: 'The lock service (Redis) is unreachable; retry shortly',
  DATABASE_UNAVAILABLE: 'The database is unreachable; retry shortly',
  IDEMPOTENCY_KEY_IN_USE: 'A request with this Idempotency-Key is still in progress; retry shortly',
  IDEMPOTENCY_KEY_REUSED: 'This Idempotency-Key was used for a different request',
  CLAIM_OUTCOME_UNKNOWN:
    'The database did not confirm whether the claim was committed; retry with the same Idempotency-Key to learn the outcome',
  AUTH_BUSY: 'Too many logins and registrations at this moment; retry shortly',
};

const RETRYABLE = 'Retryable: the answer carries `Retry-After` (seconds) and nothing was written.';
/** The one 503 that cannot say whether something was written. */
const OUTCOME_UNKNOWN =
  'Retryable with `Retry-After`; every 503 but CLAIM_OUTCOME_UNKNOWN means nothing was written. After CLAIM_OUTCOME_UNKNOWN a retry with the same key tells the truth.';

/** Codes whose answer carries `Retry-After` (domain-error.ts gives them a retry delay). */
const WITH_RETRY_AFTER: ErrorCode[] = [
  'SALE_NOT_STARTED',
  'TOO_MANY_REQUESTS',
  'LOCK_BUSY',
  'LOCK_UNAVAILABLE',
  'DATABASE_UNAVAILABLE',
  'AUTH_BUSY',
  'IDEMPOTENCY_KEY_IN_USE',
  'CLAIM_OUTCOME_UNKNOWN',
];

/** `Retry-After` as a response header, named with the codes that send it. */
function retryAfterHeader(codes: ErrorCode[]) {
  return {
    'Retry-After': {
      description: `Seconds to wait before retrying; sent with ${codes.join(', ')}`,
      schema: { type: 'integer', minimum: 0, example: 1 },
    },
  };
}

/** Errors a route that needs a bearer token can answer before its handler runs. */
export const TOKEN_ERRORS: ErrorCode[] = ['UNAUTHORIZED', 'TOKEN_INVALID', 'TOKEN_EXPIRED'];

/** One documented response per status, with an example body for every code it can carry. */
export function ApiErrors(...codes: ErrorCode[]): MethodDecorator & ClassDecorator {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of codes) byStatus.set(ERROR_STATUS[code], [...(byStatus.get(ERROR_STATUS[code]) ?? []), code]);
  const responses = [...byStatus].map(([status, group]) => {
    const retried = group.filter((code) => WITH_RETRY_AFTER.includes(code));
    return ApiResponse({
      status,
      type: ErrorResponse,
      description:
        group.join(' or ') + (status === 503 ? `. ${group.includes('CLAIM_OUTCOME_UNKNOWN') ? OUTCOME_UNKNOWN : RETRYABLE}` : ''),
      ...(retried.length > 0 ? { headers: retryAfterHeader(retried) } : {}),
      examples: Object.fromEntries(
        group.map((code) => [code, { summary: code, value: { statusCode: status, code, message: EXAMPLE_MESSAGE[code] ?? code } }]),
      ),
    });
  });
  return applyDecorators(...responses);
}
