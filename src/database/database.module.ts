import { Inject, Injectable, Module, OnModuleInit } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { dataSourceOptions } from './data-source';
import { ensureDatabaseExists, runMigrations } from './database-setup';

/** Brings the schema up to date before any other module touches the database. */
@Injectable()
export class MigrationsOnStartup implements OnModuleInit {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly dataSource: DataSource,
  ) {}

  async onModuleInit(): Promise<void> {
    if (this.config.MIGRATIONS_RUN) await runMigrations(this.dataSource);
  }
}

@Module({
  imports: [
    TypeOrmModule.forRootAsync({
      inject: [APP_CONFIG],
      useFactory: async (config: AppConfig) => {
        if (config.DATABASE_CREATE_IF_MISSING) await ensureDatabaseExists(config);
        // Fail start-up at once rather than retrying silently: the orchestrator restarts us.
        return { ...dataSourceOptions(config), retryAttempts: 0 };
      },
    }),
  ],
  providers: [MigrationsOnStartup],
})
export class DatabaseModule {}
