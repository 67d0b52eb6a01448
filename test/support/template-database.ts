import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { AppConfig } from '../../src/config/app-config';
import { projectRoot } from '../../src/config/config.loader';
import { dataSourceOptions } from '../../src/database/data-source';
import { runMigrations } from '../../src/database/database-setup';

/**
 * One migrated template database per set of migrations: a suite's database is a copy of it
 * (`CREATE DATABASE x TEMPLATE t`, a file copy) instead of a fresh database migrated step by
 * step. The app still runs its migrations at start, a no-op on the copy.
 */

// Any constant works; every jest process agrees on it, so only one builds a template at a time.
const TEMPLATE_LOCK_ID = 7_316_104_222;

const quote = (name: string) => `"${name.replace(/"/g, '""')}"`;

/** `coupons_tmpl_<hash of the migrations folder>`: new migrations, new template; an old one is never reused. */
export function templateName(): string {
  const folder = join(projectRoot(), 'migrations');
  const hash = createHash('sha256');
  for (const file of readdirSync(folder).sort())
    hash
      .update(file)
      .update('\0')
      .update(readFileSync(join(folder, file)))
      .update('\0');
  return `coupons_tmpl_${hash.digest('hex').slice(0, 16)}`;
}

function urlOf(base: string, database: string): string {
  const url = new URL(base);
  url.pathname = `/${database}`;
  return url.toString();
}

/**
 * The template's name, built first if missing. Built under a PostgreSQL advisory lock (two jest
 * processes never race) as `<name>_building`, renamed once migrated: a template under its final
 * name is complete, and a half-built one left by a killed run is dropped and built again.
 */
async function buildTemplate(adminUrl: string, config: AppConfig): Promise<string> {
  const name = templateName();
  const building = `${name}_building`;
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query('SELECT pg_advisory_lock($1)', [TEMPLATE_LOCK_ID]);
    const found = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount === 0) {
      await admin.query(`DROP DATABASE IF EXISTS ${quote(building)} WITH (FORCE)`);
      await admin.query(`CREATE DATABASE ${quote(building)}`);
      const dataSource = new DataSource(dataSourceOptions({ ...config, DATABASE_URL: urlOf(adminUrl, building) }));
      await dataSource.initialize();
      try {
        await runMigrations(dataSource);
      } finally {
        await dataSource.destroy();
      }
      await admin.query(`ALTER DATABASE ${quote(building)} RENAME TO ${quote(name)}`);
    }
    return name;
  } finally {
    await admin.query('SELECT pg_advisory_unlock($1)', [TEMPLATE_LOCK_ID]).catch(() => undefined);
    await admin.end();
  }
}

let template: Promise<string> | null = null;

/** Creates `database` as a copy of the migrated template (built by the first suite of the run that needs it). */
export async function createFromTemplate(adminUrl: string, database: string, config: AppConfig): Promise<void> {
  template ??= buildTemplate(adminUrl, config);
  const name = await template;
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${quote(database)} TEMPLATE ${quote(name)}`);
  } finally {
    await admin.end();
  }
}
