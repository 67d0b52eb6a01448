import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { IdempotencyKey, StoredAnswer } from './idempotency-key';

/** A key and the decided answer to keep under it. */
export interface KeyRecord extends IdempotencyKey {
  userId: string;
  answer: StoredAnswer;
}

/** What a key holds: the fingerprint of the request that set it and its answer. */
export interface StoredKey {
  fingerprint: string;
  answer: StoredAnswer;
}

/** Anything that runs SQL: the data source, or a query runner inside a transaction. */
export interface SqlRunner {
  query(sql: string, parameters?: unknown[]): Promise<any>;
}

/**
 * Every key of `rows` in one statement. Without ON CONFLICT: a key that already holds an answer
 * aborts the transaction (a unique violation on idempotency_keys_pkey) rather than letting a
 * claim commit under a key that answers something else. Rows go in key order, so two
 * statements writing the same keys wait for each other instead of deadlocking.
 */
const INSERT_KEYS = `
  INSERT INTO idempotency_keys (user_id, key, fingerprint, status_code, response_body)
  SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::smallint[], $5::json[])
      AS k(user_id, key, fingerprint, status_code, response_body)
   ORDER BY user_id, key`;

export const KEY_TAKEN_CONSTRAINT = 'idempotency_keys_pkey';

/**
 * The idempotency_keys table: the answers given under a key, per user. PRIMARY KEY (user_id, key)
 * is the fence: a key holds one answer, whichever process writes it first.
 */
@Injectable()
export class IdempotencyKeysRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** What `key` of `userId` holds, or null. */
  async find(userId: string, key: string): Promise<StoredKey | null> {
    const rows: { fingerprint: string; status_code: number; response_body: unknown }[] = await this.dataSource.query(
      'SELECT fingerprint, status_code, response_body FROM idempotency_keys WHERE user_id = $1 AND key = $2',
      [userId, key],
    );
    return rows.length === 0
      ? null
      : { fingerprint: rows[0].fingerprint, answer: { status: rows[0].status_code, body: rows[0].response_body } };
  }

  /** What each (user, key) holds, or null, in one statement; in the order asked. */
  async findMany(wanted: { userId: string; key: string }[]): Promise<(StoredKey | null)[]> {
    const rows: { user_id: string; key: string; fingerprint: string; status_code: number; response_body: unknown }[] =
      await this.dataSource.query(
        `SELECT k.user_id, k.key, k.fingerprint, k.status_code, k.response_body
         FROM unnest($1::bigint[], $2::text[]) AS w(user_id, key)
         JOIN idempotency_keys k ON k.user_id = w.user_id AND k.key = w.key`,
        [wanted.map((w) => w.userId), wanted.map((w) => w.key)],
      );
    const stored = new Map(
      rows.map((r) => [
        `${r.user_id}\u0000${r.key}`,
        { fingerprint: r.fingerprint, answer: { status: r.status_code, body: r.response_body } },
      ]),
    );
    return wanted.map((w) => stored.get(`${w.userId}\u0000${w.key}`) ?? null);
  }

  /** Writes every record in one statement through `sql` (a transaction's runner); a taken key aborts it. */
  async insert(sql: SqlRunner, records: KeyRecord[]): Promise<void> {
    if (records.length === 0) return;
    await sql.query(INSERT_KEYS, [
      records.map((r) => r.userId),
      records.map((r) => r.key),
      records.map((r) => r.fingerprint),
      records.map((r) => r.answer.status),
      records.map((r) => JSON.stringify(r.answer.body)),
    ]);
  }

  /**
   * Keeps each record's answer unless its key already holds one; returns, per record, null when
   * it was written, else what the key holds. One statement for all of them, a second only to
   * read the keys that were taken.
   */
  async recordUnlessTaken(records: KeyRecord[]): Promise<(StoredKey | null)[]> {
    if (records.length === 0) return [];
    // Two records of one key in one statement: the first is written, the later ones read it.
    const seen = new Set<string>();
    const unique = records.filter((r) => {
      const id = `${r.userId}\u0000${r.key}`;
      if (seen.has(id)) return false;
      seen.add(id);
      return true;
    });
    const written: { user_id: string; key: string }[] = await this.dataSource.query(
      `${INSERT_KEYS} ON CONFLICT (user_id, key) DO NOTHING RETURNING user_id, key`,
      [
        unique.map((r) => r.userId),
        unique.map((r) => r.key),
        unique.map((r) => r.fingerprint),
        unique.map((r) => r.answer.status),
        unique.map((r) => JSON.stringify(r.answer.body)),
      ],
    );
    const writtenIds = new Set(written.map((w) => `${w.user_id}\u0000${w.key}`));
    const writtenRecords = new Set(unique.filter((r) => writtenIds.has(`${r.userId}\u0000${r.key}`)));
    return Promise.all(records.map((r) => (writtenRecords.has(r) ? Promise.resolve(null) : this.find(r.userId, r.key))));
  }

  /**
   * Deletes up to `batchSize` keys older than `ttlSeconds`; returns how many. SKIP LOCKED lets
   * every process purge at once without waiting on each other.
   */
  async purgeExpired(ttlSeconds: number, batchSize: number): Promise<number> {
    const [, deleted] = await this.dataSource.query(
      `DELETE FROM idempotency_keys WHERE ctid = ANY(ARRAY(
         SELECT ctid FROM idempotency_keys
          WHERE created_at < now() - make_interval(secs => $1)
          LIMIT $2 FOR UPDATE SKIP LOCKED))`,
      [ttlSeconds, batchSize],
    );
    return deleted as number;
  }
}
