import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { AppConfig, ConfigKey } from './app-config';
import { maskCredentials, shownValue } from './credentials';

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
export function loadConfig(overrides: Partial<Record<ConfigKey, unknown>> = {}, env: NodeJS.ProcessEnv = process.env): AppConfig {
  const root = projectRoot();
  const defaults = readJson(join(root, 'env.example.json'));
  const local = existsSync(join(root, 'env.json')) ? readJson(join(root, 'env.json')) : {};
  const merged: RawConfig = { ...defaults, ...local };

  const unknownKeys = Object.keys(local).filter((key) => !(key in defaults));
  if (unknownKeys.length > 0) {
    throw new ConfigError(`env.json has unknown keys: ${unknownKeys.join(', ')}`);
  }
  const fromEnv = environmentValues(Object.keys(defaults), env);
  for (const [key, value] of Object.entries(fromEnv)) merged[key] = coerce(value, defaults[key]);
  Object.assign(merged, overrides);

  const config = plainToInstance(AppConfig, merged);
  const errors = validateSync(config, { forbidUnknownValues: true });
  if (errors.length > 0) {
    const lines = errors.map((error) => {
      return `  ${error.property}=${shownValue(error.property, error.value)}: ${Object.values(error.constraints ?? {}).join('; ')}`;
    });
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  checkUrlsParse(config);
  checkTimeoutOrder(config);
  checkProductionSafety(config, defaults);
  return Object.freeze(config);
}

/**
 * Each key from the environment: `KEY`, or the content of the file `KEY_FILE` names (Docker and
 * Kubernetes mount secrets as files), without its trailing newline. Both set is an error: the
 * operator meant one of them and we cannot tell which.
 */
function environmentValues(keys: string[], env: NodeJS.ProcessEnv): Record<string, string> {
  const values: Record<string, string> = {};
  const problems: string[] = [];
  for (const key of keys) {
    const direct = env[key];
    const file = env[`${key}_FILE`];
    if (file === undefined) {
      if (direct !== undefined) values[key] = direct;
      continue;
    }
    if (direct !== undefined) {
      problems.push(`  ${key} and ${key}_FILE are both set: set only one`);
      continue;
    }
    try {
      values[key] = readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      problems.push(
        `  ${key}_FILE=${JSON.stringify(file)}: cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
      );
    }
  }
  if (problems.length > 0) throw new ConfigError(`Invalid configuration:\n${problems.join('\n')}`);
  return values;
}

/**
 * The configuration of a process that serves (main.ts, cluster.ts): loadConfig, and the example
 * JWT_SECRET only where NODE_ENV=development is set on purpose (environment or env.json), so a
 * production start that forgot its secret refuses instead of signing tokens anyone can mint.
 */
export function loadServingConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const config = loadConfig({}, env);
  const root = projectRoot();
  const example = readJson(join(root, 'env.example.json')).JWT_SECRET;
  if (config.JWT_SECRET !== example) return config;
  const local = existsSync(join(root, 'env.json')) ? readJson(join(root, 'env.json')) : {};
  const chosen = environmentValues(['NODE_ENV'], env).NODE_ENV ?? local.NODE_ENV;
  if (chosen !== 'development') {
    throw new ConfigError(
      'Invalid configuration:\n  JWT_SECRET is not set: set JWT_SECRET (or JWT_SECRET_FILE) to 32+ random bytes, ' +
        'the same on every instance (the example secret is accepted only with NODE_ENV=development)',
    );
  }
  return config;
}

/** A start-up failure as it may be printed: URL passwords masked (a driver may quote a URL). */
export function startupFailureMessage(error: unknown): string {
  return maskCredentials(error instanceof Error ? error.message : String(error));
}

/** Keys that hold one URL or a comma-separated list of them. */
const URL_KEY = /(_URLS?|_ENDPOINT)$/;

/**
 * Every URL-valued key must parse as a URL: a driver that fails to parse one (ioredis, pg) throws
 * an error whose `input` is the whole URL, password included, and start-up prints such errors
 * whole. Refused here, the message names the key with the password masked.
 */
function checkUrlsParse(config: AppConfig): void {
  const problems: string[] = [];
  for (const [key, value] of Object.entries(config)) {
    if (!URL_KEY.test(key) || typeof value !== 'string' || value === '') continue;
    const bad = value
      .split(',')
      .map((url) => url.trim())
      .filter((url) => !URL.canParse(url));
    if (bad.length > 0)
      problems.push(`  ${key}=${shownValue(key, value)}: ${bad.map((url) => shownValue(key, url)).join(', ')} is not a valid URL`);
  }
  if (problems.length > 0) throw new ConfigError(`Invalid configuration:\n${problems.join('\n')}`);
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
export function bcryptConcurrency(config: AppConfig, cores: number = availableParallelism(), pool: number = libuvThreadPoolSize()): number {
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
  return config.CORS_ORIGINS.split(',')
    .map((origin) => origin.trim())
    .filter(Boolean);
}
