import { Logger } from '@nestjs/common';
import { loadConfig, startupFailureMessage } from '../config/config.loader';
import { createDataSource } from './data-source';
import { ensureDatabaseExists, runMigrations } from './database-setup';

/** `npm run migration:run`: the same data source and migrations the app uses. */
async function main(): Promise<void> {
  const config = loadConfig();
  await ensureDatabaseExists(config);
  const dataSource = createDataSource(config);
  await dataSource.initialize();
  try {
    await runMigrations(dataSource);
  } finally {
    await dataSource.destroy();
  }
}

main().catch((error: Error) => {
  new Logger('Migrations').error(startupFailureMessage(error));
  process.exit(1);
});
