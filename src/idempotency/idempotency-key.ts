import { createHash } from 'node:crypto';
import { DomainError } from '../common/domain-error';

/** The request header a client sends, and the one a replayed answer carries. */
export const IDEMPOTENCY_KEY_HEADER = 'idempotency-key';
export const IDEMPOTENT_REPLAYED_HEADER = 'Idempotent-Replayed';

/** 1 to 255 printable ASCII characters (space to tilde). */
const KEY_PATTERN = /^[\x20-\x7e]{1,255}$/;

/** A request's key and the fingerprint of what it asks (route and body), compared on every reuse. */
export interface IdempotencyKey {
  key: string;
  fingerprint: string;
}

/** A decided answer kept under a key: status and body, replayed as they were. */
export interface StoredAnswer {
  status: number;
  body: unknown;
}

/** A previous request's answer, sent again with `Idempotent-Replayed: true`. */
export class Replay implements StoredAnswer {
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {}
}

/**
 * The key of a request (undefined without the header), fingerprinted with the route and the
 * validated fields that decide its answer (not the raw JSON: spacing and field order do not
 * make another request). A malformed key is 400 VALIDATION_FAILED.
 */
export function idempotencyKeyOf(headers: Record<string, unknown>, route: string, fields: unknown[]): IdempotencyKey | undefined {
  const value = headers[IDEMPOTENCY_KEY_HEADER];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !KEY_PATTERN.test(value)) {
    throw new DomainError('VALIDATION_FAILED', 'Idempotency-Key must be 1 to 255 printable ASCII characters', undefined, [
      { field: 'Idempotency-Key', problems: ['Idempotency-Key must be 1 to 255 printable ASCII characters'] },
    ]);
  }
  const fingerprint = createHash('sha256')
    .update(JSON.stringify([route, ...fields]))
    .digest('base64url');
  return { key: value, fingerprint };
}

/** A refusal kept under a key: the body the error filter sends for it. */
export function errorAnswer(error: DomainError): StoredAnswer {
  return { status: error.status, body: { statusCode: error.status, code: error.code, message: error.message } };
}
