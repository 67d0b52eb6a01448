import { ConfigError, corsOrigins, loadConfig, trustProxySetting } from './config.loader';

describe('loadConfig', () => {
  it('takes every default from env.example.json', () => {
    const config = loadConfig({}, {});
    expect(config.PORT).toBe(3000);
    expect(config.REDIS_URLS).toBe('redis://127.0.0.1:6379');
    expect(config.LOCK_RETRY_COUNT).toBe(3);
    expect(config.LOCK_RETRY_DELAY_MS).toBe(500);
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('environment variables override, typed like their defaults', () => {
    const config = loadConfig({}, { PORT: '4000', MIGRATIONS_RUN: 'false', REDIS_URLS: 'redis://a:1,redis://b:2,redis://c:3' });
    expect(config.PORT).toBe(4000);
    expect(config.MIGRATIONS_RUN).toBe(false);
  });

  it('names every bad key in one error', () => {
    expect(() => loadConfig({}, { PORT: 'eighty', DATABASE_URL: 'mysql://x/y', BCRYPT_COST: '99' })).toThrow(
      expect.objectContaining({ message: expect.stringMatching(/PORT=.*\n.*DATABASE_URL=.*\n.*BCRYPT_COST=/s) }),
    );
  });

  it('never prints a secret it refuses', () => {
    try {
      loadConfig({}, { JWT_SECRET: 'short' });
      throw new Error('expected a ConfigError');
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as Error).message).toContain('JWT_SECRET=<hidden>');
      expect((error as Error).message).not.toContain('short');
    }
  });

  it('refuses the example secret or a short one in production', () => {
    expect(() => loadConfig({}, { NODE_ENV: 'production' })).toThrow(/example secret/);
    expect(() => loadConfig({}, { NODE_ENV: 'production', JWT_SECRET: 'only-twenty-bytes-xx' })).toThrow(/32 bytes/);
    expect(loadConfig({}, { NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(32) }).NODE_ENV).toBe('production');
  });

  it('rejects a malformed REDIS_URLS list', () => {
    expect(() => loadConfig({}, { REDIS_URLS: 'redis://a:1,,redis://b' })).toThrow(/REDIS_URLS/);
  });

  it('refuses an even number of Redis nodes (a tied Redlock vote never settles)', () => {
    expect(() => loadConfig({}, { REDIS_URLS: 'redis://a:1,redis://b:2' })).toThrow(/REDIS_URLS.*odd number/);
    expect(() => loadConfig({}, { REDIS_URLS: 'redis://a:1,redis://b:2,redis://c:3,redis://d:4' })).toThrow(/odd number/);
    expect(loadConfig({}, { REDIS_URLS: 'redis://a:1,redis://b:2,redis://c:3,redis://d:4,redis://e:5' }).REDIS_URLS).toContain('e:5');
  });

  it('reads TRUST_PROXY as off, every hop or trusted addresses; refuses a hop count and anything else', () => {
    expect(trustProxySetting(loadConfig({}, {}))).toBe(false);
    expect(trustProxySetting(loadConfig({}, { TRUST_PROXY: 'true' }))).toBe(true);
    // Fastify trusts no one for a hop count: refused at start rather than silently ignored.
    expect(() => loadConfig({}, { TRUST_PROXY: '2' })).toThrow(/TRUST_PROXY/);
    expect(trustProxySetting(loadConfig({}, { TRUST_PROXY: '127.0.0.1,10.0.0.0/8' }))).toEqual(['127.0.0.1', '10.0.0.0/8']);
    expect(() => loadConfig({}, { TRUST_PROXY: 'everyone' })).toThrow(/TRUST_PROXY/);
  });

  it('reads CORS_ORIGINS as a list of origins, empty by default; refuses paths and wildcards', () => {
    expect(corsOrigins(loadConfig({}, {}))).toEqual([]);
    expect(corsOrigins(loadConfig({}, { CORS_ORIGINS: 'https://a.example,http://localhost:8080' }))).toEqual([
      'https://a.example',
      'http://localhost:8080',
    ]);
    expect(() => loadConfig({}, { CORS_ORIGINS: '*' })).toThrow(/CORS_ORIGINS/);
    expect(() => loadConfig({}, { CORS_ORIGINS: 'https://a.example/path' })).toThrow(/CORS_ORIGINS/);
  });

  it('a stuck session ends before a lock wait, and a lock wait before the statement timeout; start-up refuses any other order', () => {
    const defaults = loadConfig({}, {});
    expect(defaults.DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS).toBeLessThan(defaults.DATABASE_LOCK_TIMEOUT_MS);
    expect(defaults.DATABASE_LOCK_TIMEOUT_MS).toBeLessThan(defaults.DATABASE_STATEMENT_TIMEOUT_MS);
    expect(() => loadConfig({}, { DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS: '3500' })).toThrow(
      /DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS=3500: must be below DATABASE_LOCK_TIMEOUT_MS=3500/,
    );
    expect(() => loadConfig({}, { DATABASE_STATEMENT_TIMEOUT_MS: '3000' })).toThrow(
      /DATABASE_LOCK_TIMEOUT_MS=3500: must be below DATABASE_STATEMENT_TIMEOUT_MS=3000/,
    );
    // Both problems in one message; 0 (PostgreSQL's "never") is refused like any value below 100.
    expect(() => loadConfig({}, { DATABASE_LOCK_TIMEOUT_MS: '9000', DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS: '9000' })).toThrow(
      /IDLE_IN_TRANSACTION.*\n.*DATABASE_LOCK_TIMEOUT_MS=9000/s,
    );
    expect(() => loadConfig({}, { DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS: '0' })).toThrow(/DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS=0/);
    const tight = loadConfig(
      {},
      { DATABASE_STATEMENT_TIMEOUT_MS: '800', DATABASE_LOCK_TIMEOUT_MS: '600', DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS: '400' },
    );
    expect(tight.DATABASE_LOCK_TIMEOUT_MS).toBe(600);
  });

  it('rate limits may be turned off with 0 but not made negative', () => {
    expect(loadConfig({}, { CLAIM_RATE_LIMIT_PER_USER: '0' }).CLAIM_RATE_LIMIT_PER_USER).toBe(0);
    expect(() => loadConfig({}, { LOGIN_RATE_LIMIT_PER_ADDRESS: '-1' })).toThrow(/LOGIN_RATE_LIMIT_PER_ADDRESS/);
  });
});
