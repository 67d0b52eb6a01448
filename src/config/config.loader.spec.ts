import { ConfigError, loadConfig } from './config.loader';

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
    const config = loadConfig({}, { PORT: '4000', MIGRATIONS_RUN: 'false', REDIS_URLS: 'redis://a:1,redis://b:2' });
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
});
