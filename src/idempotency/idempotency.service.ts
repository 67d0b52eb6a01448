import { Injectable } from '@nestjs/common';
import { DomainError, idempotencyKeyInUse, idempotencyKeyReused } from '../common/domain-error';
import { IdempotencyKey, Replay } from './idempotency-key';
import { IdempotencyKeysRepository, KeyRecord, StoredKey } from './idempotency-keys.repository';
import { InFlightKeys } from './in-flight-keys';

/**
 * The rules of a keyed request, for every route that takes an Idempotency-Key: one request per
 * key in flight (409 IDEMPOTENCY_KEY_IN_USE), a decided answer replayed to the same request
 * (same fingerprint), 422 IDEMPOTENCY_KEY_REUSED to another one.
 */
/** Most keyed refusals written by one statement. */
const RECORDS_PER_STATEMENT = 500;

interface QueuedRecord {
  record: KeyRecord;
  resolve(answer: Replay | DomainError | null): void;
  reject(error: unknown): void;
}

@Injectable()
export class IdempotencyService {
  private queued: QueuedRecord[] = [];
  private writing = false;

  constructor(
    private readonly keys: IdempotencyKeysRepository,
    private readonly inFlight: InFlightKeys,
  ) {}

  /**
   * Runs `work` as the only request of this key in flight, unless the key already holds an
   * answer (then its replay, or 422). `work` must write the key itself with its decision.
   */
  async once<T>(userId: string, idempotency: IdempotencyKey, work: () => Promise<T>): Promise<T | Replay> {
    const release = await this.inFlight.acquire(userId, idempotency.key);
    if (!release) throw idempotencyKeyInUse();
    try {
      const stored = await this.keys.find(userId, idempotency.key);
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
   * only when the database fails. Records arriving while a write is under way share the next
   * statement: a crowd of keyed refusals costs one write per round trip, not one each.
   */
  recordUnlessTaken(record: KeyRecord): Promise<Replay | DomainError | null> {
    return new Promise((resolve, reject) => {
      this.queued.push({ record, resolve, reject });
      if (!this.writing) void this.writeQueued();
    });
  }

  private async writeQueued(): Promise<void> {
    this.writing = true;
    try {
      while (this.queued.length > 0) {
        const waiters = this.queued.splice(0, RECORDS_PER_STATEMENT);
        try {
          const stored = await this.keys.recordUnlessTaken(waiters.map((w) => w.record));
          waiters.forEach((waiter, i) => waiter.resolve(answerOf(stored[i], waiter.record)));
        } catch (error) {
          waiters.forEach((waiter) => waiter.reject(error));
        }
      }
    } finally {
      this.writing = false;
    }
  }
}

function answerOf(stored: StoredKey | null, idempotency: IdempotencyKey): Replay | DomainError | null {
  if (!stored) return null;
  try {
    return replayOf(stored, idempotency);
  } catch (error) {
    return error as DomainError;
  }
}

/** The stored answer for the same request; 422 for another one under the same key. */
function replayOf(stored: StoredKey, idempotency: IdempotencyKey): Replay {
  if (stored.fingerprint !== idempotency.fingerprint) throw idempotencyKeyReused();
  return new Replay(stored.answer.status, stored.answer.body);
}
