import { Logger } from '@nestjs/common';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { AppConfig } from '../config/app-config';

const logger = new Logger('DatabaseSetup');

// Any constant works; every API process agrees on it so only one migrates at a time.
const MIGRATION_LOCK_ID = 7_316_104_221;

export function databaseName(url: string): string {
  return decodeURIComponent(new URL(url).pathname.replace(/^\//, ''));
}

/** Creates the configured database when it is missing and the server lets us. */
export async function ensureDatabaseExists(config: AppConfig): Promise<void> {
  const target = new URL(config.DATABASE_URL);
  const name = databaseName(config.DATABASE_URL);
  const maintenance = new URL(config.DATABASE_URL);
  maintenance.pathname = '/postgres';
  const client = new Client({
    connectionString: maintenance.toString(),
    connectionTimeoutMillis: config.DATABASE_CONNECT_TIMEOUT_MS,
  });
  try {
    await client.connect();
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount === 0) {
      await client.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
      logger.log(`created database ${name} on ${target.host}`);
    }
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === '42P04') return; // created by a sibling process at the same moment
    // No right to connect to "postgres" or to create: the migrations will tell if it is missing.
    logger.warn(`could not ensure database ${name} exists: ${(error as Error).message}`);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Runs pending migrations, one process at a time (several instances may start together). */
export async function runMigrations(dataSource: DataSource): Promise<void> {
  const runner = dataSource.createQueryRunner();
  await runner.connect();
  try {
    await runner.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_ID]);
    const applied = await dataSource.runMigrations({ transaction: 'each' });
    for (const migration of applied) logger.log(`applied migration ${migration.name}`);
    if (applied.length === 0) logger.log('migrations up to date');
  } finally {
    await runner.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_ID]).catch(() => undefined);
    await runner.release();
  }
}
