import { Injectable } from '@nestjs/common';
import { DomainError, idempotencyKeyInUse, idempotencyKeyReused } from '../common/domain-error';
import { IdempotencyKey, Replay } from './idempotency-key';
import { IdempotencyKeysRepository, KeyRecord, StoredKey } from './idempotency-keys.repository';
import { InFlightKeys } from './in-flight-keys';
import { StatementCoalescer } from './statement-coalescer';

/** Most keys one coalesced statement reads or writes. */
const KEYS_PER_STATEMENT = 500;

/**
 * The rules of a keyed request, for every route that takes an Idempotency-Key: one request per
 * key in flight (409 IDEMPOTENCY_KEY_IN_USE), a decided answer replayed to the same request
 * (same fingerprint), 422 IDEMPOTENCY_KEY_REUSED to another one.
 */
@Injectable()
export class IdempotencyService {
  /**
   * Reads and refusal writes of concurrent requests share statements: with a key on every claim
   * the crowd costs the pool one query per round trip, not one per request.
   */
  private readonly reads: StatementCoalescer<{ userId: string; key: string }, StoredKey | null>;
  private readonly writes: StatementCoalescer<KeyRecord, StoredKey | null>;

  constructor(
    private readonly keys: IdempotencyKeysRepository,
    private readonly inFlight: InFlightKeys,
  ) {
    this.reads = new StatementCoalescer((wanted) => this.keys.findMany(wanted), KEYS_PER_STATEMENT);
    this.writes = new StatementCoalescer((records) => this.keys.recordUnlessTaken(records), KEYS_PER_STATEMENT);
  }

  /**
   * Runs `work` as the only request of this key in flight, unless the key already holds an
   * answer (then its replay, or 422). `work` must write the key itself with its decision.
   */
  async once<T>(userId: string, idempotency: IdempotencyKey, work: () => Promise<T>): Promise<T | Replay> {
    const release = await this.inFlight.acquire(userId, idempotency.key);
    if (!release) throw idempotencyKeyInUse();
    try {
      const stored = await this.reads.submit({ userId, key: idempotency.key });
      if (stored) return replayOf(stored, idempotency);
      return await work();
    } finally {
      await release();
    }
  }

  /** What the key holds now, as a replay (or 422); null if it holds nothing. */
  async replayIfStored(userId: string, idempotency: IdempotencyKey): Promise<Replay | null> {
    const stored = await this.keys.find(userId, idempotency.key);
    return stored ? replayOf(stored, idempotency) : null;
  }

  /**
   * Keeps `record`'s answer unless its key holds one already: null when it was kept (the fresh
   * answer stands), else the replay of what the key holds (or 422 for another request). Rejects
   * only when the database fails.
   */
  async recordUnlessTaken(record: KeyRecord): Promise<Replay | DomainError | null> {
    const stored = await this.writes.submit(record);
    if (!stored) return null;
    try {
      return replayOf(stored, record);
    } catch (error) {
      return error as DomainError;
    }
  }
}

/** The stored answer for the same request; 422 for another one under the same key. */
function replayOf(stored: StoredKey, idempotency: IdempotencyKey): Replay {
  if (stored.fingerprint !== idempotency.fingerprint) throw idempotencyKeyReused();
  return new Replay(stored.answer.status, stored.answer.body);
}
