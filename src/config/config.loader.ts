import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { AppConfig, ConfigKey } from './app-config';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type RawConfig = Record<string, unknown>;

/** The project root: the nearest folder above this file that holds env.example.json. */
export function projectRoot(): string {
  let dir = __dirname;
  while (!existsSync(join(dir, 'env.example.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new ConfigError('env.example.json not found above ' + __dirname);
    dir = parent;
  }
  return dir;
}

function readJson(path: string): RawConfig {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as RawConfig;
  } catch (err) {
    throw new ConfigError(`${path} is not valid JSON: ${(err as Error).message}`);
  }
}

/** Environment values are strings; they take the type of the documented default. */
function coerce(value: string, example: unknown): unknown {
  if (typeof example === 'number') {
    return /^-?\d+$/.test(value.trim()) ? Number(value) : value;
  }
  if (typeof example === 'boolean') {
    if (/^(true|1|yes)$/i.test(value)) return true;
    if (/^(false|0|no)$/i.test(value)) return false;
    return value;
  }
  return value;
}

/**
 * Builds the configuration once: env.example.json (defaults) < env.json < environment
 * < explicit overrides (tests). Throws one ConfigError naming every bad key.
 */
export function loadConfig(
  overrides: Partial<Record<ConfigKey, unknown>> = {},
  env: NodeJS.ProcessEnv = process.env,
): AppConfig {
  const root = projectRoot();
  const defaults = readJson(join(root, 'env.example.json'));
  const local = existsSync(join(root, 'env.json')) ? readJson(join(root, 'env.json')) : {};
  const merged: RawConfig = { ...defaults, ...local };

  const unknownKeys = Object.keys(local).filter((key) => !(key in defaults));
  if (unknownKeys.length > 0) {
    throw new ConfigError(`env.json has unknown keys: ${unknownKeys.join(', ')}`);
  }
  for (const key of Object.keys(defaults)) {
    const fromEnv = env[key];
    if (fromEnv !== undefined) merged[key] = coerce(fromEnv, defaults[key]);
  }
  Object.assign(merged, overrides);

  const config = plainToInstance(AppConfig, merged);
  const errors = validateSync(config, { forbidUnknownValues: true });
  if (errors.length > 0) {
    const lines = errors.map((error) => {
      const shown = /SECRET|PASSWORD/.test(error.property) ? '<hidden>' : JSON.stringify(error.value);
      return `  ${error.property}=${shown}: ${Object.values(error.constraints ?? {}).join('; ')}`;
    });
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  checkTimeoutOrder(config);
  checkProductionSafety(config, defaults);
  return Object.freeze(config);
}

/**
 * A process frozen or cut off inside a transaction holds the coupon row until PostgreSQL ends
 * its session. The batch queued behind it must outlast that (lock wait > idle-in-transaction
 * timeout), and must end as a lock wait (503 LOCK_BUSY) before the statement timeout calls the
 * database slow. Any other order lets a stuck process stall the sale: see reliability.md.
 */
function checkTimeoutOrder(config: AppConfig): void {
  const problems: string[] = [];
  if (config.DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS >= config.DATABASE_LOCK_TIMEOUT_MS) {
    problems.push(
      `  DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS=${config.DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS}: must be below ` +
        `DATABASE_LOCK_TIMEOUT_MS=${config.DATABASE_LOCK_TIMEOUT_MS}, or claims queued behind a stuck process give up before its session ends`,
    );
  }
  if (config.DATABASE_LOCK_TIMEOUT_MS >= config.DATABASE_STATEMENT_TIMEOUT_MS) {
    problems.push(
      `  DATABASE_LOCK_TIMEOUT_MS=${config.DATABASE_LOCK_TIMEOUT_MS}: must be below ` +
        `DATABASE_STATEMENT_TIMEOUT_MS=${config.DATABASE_STATEMENT_TIMEOUT_MS}, so a wait for the coupon row ends as a lock wait`,
    );
  }
  if (problems.length > 0) throw new ConfigError(`Invalid configuration:\n${problems.join('\n')}`);
}

/** libuv's thread pool, where bcrypt hashes run: UV_THREADPOOL_SIZE (1-1024), 4 when unset. */
export function libuvThreadPoolSize(env: NodeJS.ProcessEnv = process.env): number {
  const size = Number(env.UV_THREADPOOL_SIZE);
  return Number.isInteger(size) && size >= 1 ? Math.min(size, 1024) : 4;
}

/**
 * How many bcrypt hashes a process runs at once: BCRYPT_MAX_CONCURRENT, or for 0 half the
 * cores (at least 1, at most the libuv pool), so hashing can never take every core from the
 * claims that share them.
 */
export function bcryptConcurrency(
  config: AppConfig,
  cores: number = availableParallelism(),
  pool: number = libuvThreadPoolSize(),
): number {
  if (config.BCRYPT_MAX_CONCURRENT > 0) return config.BCRYPT_MAX_CONCURRENT;
  return Math.max(1, Math.min(pool, Math.floor(cores / 2)));
}

function checkProductionSafety(config: AppConfig, defaults: RawConfig): void {
  if (config.NODE_ENV !== 'production') return;
  if (config.JWT_SECRET === defaults.JWT_SECRET) {
    throw new ConfigError('Invalid configuration:\n  JWT_SECRET: the example secret must not be used in production');
  }
  if (Buffer.byteLength(config.JWT_SECRET) < 32) {
    throw new ConfigError('Invalid configuration:\n  JWT_SECRET: must be at least 32 bytes in production');
  }
}

export function redisUrls(config: AppConfig): string[] {
  return config.REDIS_URLS.split(',').map((url) => url.trim());
}

/** Fastify's trustProxy from TRUST_PROXY: off, every hop, or trusted addresses. */
export function trustProxySetting(config: AppConfig): boolean | string[] {
  const value = config.TRUST_PROXY.trim();
  if (value === '' || value === 'false') return false;
  if (value === 'true') return true;
  return value.split(',').map((address) => address.trim());
}

export function corsOrigins(config: AppConfig): string[] {
  return config.CORS_ORIGINS.split(',').map((origin) => origin.trim()).filter(Boolean);
}
