import { DataSource } from 'typeorm';
import { withTimeout } from './with-timeout';

/** What the service uses of the pg client under a TypeORM query runner (`await runner.connect()`). */
export interface PgConnection {
  /** The server process of this session (pg_stat_activity.pid). */
  processID?: number;
  query(config: { text: string; query_timeout: number }): Promise<unknown>;
  end(): Promise<void>;
}

/**
 * Whether PostgreSQL answers a round trip within `timeoutMs`. A connection that stays silent
 * (a link cut without a reset) is closed, so the pool never lends it again wedged; a plain
 * `SELECT 1` raced against a timer would leave it running and put it back in the pool.
 */
export async function databaseAnswers(dataSource: DataSource, timeoutMs: number): Promise<boolean> {
  const runner = dataSource.createQueryRunner();
  const ping = (async () => {
    const connection: PgConnection = await runner.connect();
    try {
      await connection.query({ text: 'SELECT 1', query_timeout: timeoutMs });
    } catch (error) {
      void connection.end().catch(() => undefined);
      throw error;
    } finally {
      await runner.release();
    }
  })();
  return withTimeout(ping, timeoutMs, `no answer within ${timeoutMs} ms`).then(
    () => true,
    () => false,
  );
}
