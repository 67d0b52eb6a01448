import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig, loadServingConfig, startupFailureMessage } from './config.loader';
import { maskCredentials, shownValue } from './credentials';

const STRONG_SECRET = 'k'.repeat(40);

describe('maskCredentials', () => {
  it.each([
    ['postgres://coupons:s3cr3t@db:5432/coupons', 'postgres://coupons:***@db:5432/coupons'],
    ['redis://:s3cr3t@a:6379,redis://user:pw2@b:6379', 'redis://:***@a:6379,redis://user:***@b:6379'],
    ['amqp://guest:p@ss@rabbit:5672/vhost', 'amqp://guest:***@rabbit:5672/vhost'],
    ['failed: connect to "postgres://u:pw@h/db" refused', 'failed: connect to "postgres://u:***@h/db" refused'],
    ['postgres://postgres@127.0.0.1:5432/coupons', 'postgres://postgres@127.0.0.1:5432/coupons'],
    ['no url here: a:b@c', 'no url here: a:b@c'],
  ])('%s', (text, masked) => {
    expect(maskCredentials(text)).toBe(masked);
  });

  it('hides a secret key whole and masks URL passwords in any other', () => {
    expect(shownValue('ADMIN_PASSWORD', 'x')).toBe('<hidden>');
    expect(shownValue('EVENTS_URL', 'amqp://u:pw@h')).toBe('"amqp://u:***@h"');
  });
});

describe('configuration errors never print a URL password', () => {
  it('masks DATABASE_URL and REDIS_URLS in the message naming them', () => {
    let message = '';
    try {
      loadConfig({}, { DATABASE_URL: 'postgres://u:dbpass123@h:5432', REDIS_URLS: 'redis://:redispass456@a:1,,' });
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      message = (error as Error).message;
    }
    expect(message).toMatch(/DATABASE_URL="postgres:\/\/u:\*\*\*@h:5432"/);
    expect(message).toMatch(/REDIS_URLS=/);
    expect(message).not.toMatch(/dbpass123|redispass456/);
  });

  it('masks a start-up failure message', () => {
    expect(startupFailureMessage(new Error('bad postgres://u:pw@h/db'))).toBe('bad postgres://u:***@h/db');
  });
});

describe('KEY_FILE (Docker and Kubernetes secrets)', () => {
  let dir: string;
  beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'secrets-'))));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, content: string) => {
    const path = join(dir, name);
    writeFileSync(path, content);
    return path;
  };

  it('reads a key from the file KEY_FILE names, without its trailing newline', () => {
    const config = loadConfig(
      {},
      {
        JWT_SECRET_FILE: file('jwt', `${STRONG_SECRET}\n`),
        DATABASE_URL_FILE: file('db', 'postgres://u:pw@db:5432/coupons\r\n'),
        REDIS_URLS_FILE: file('redis', 'redis://:pw@a:6379'),
        PORT_FILE: file('port', '4001\n'),
      },
    );
    expect(config.JWT_SECRET).toBe(STRONG_SECRET);
    expect(config.DATABASE_URL).toBe('postgres://u:pw@db:5432/coupons');
    expect(config.REDIS_URLS).toBe('redis://:pw@a:6379');
    expect(config.PORT).toBe(4001);
  });

  it('refuses KEY and KEY_FILE both set, naming both', () => {
    expect(() => loadConfig({}, { JWT_SECRET: STRONG_SECRET, JWT_SECRET_FILE: file('jwt2', STRONG_SECRET) })).toThrow(
      /JWT_SECRET and JWT_SECRET_FILE are both set/,
    );
  });

  it('names an unreadable KEY_FILE', () => {
    expect(() => loadConfig({}, { DATABASE_URL_FILE: join(dir, 'missing') })).toThrow(/DATABASE_URL_FILE=.*missing.*ENOENT/);
  });
});

describe('loadServingConfig (main.ts, cluster.ts)', () => {
  it('refuses the example JWT_SECRET unless NODE_ENV=development is set on purpose, naming JWT_SECRET', () => {
    expect(() => loadServingConfig({})).toThrow(/JWT_SECRET is not set/);
    expect(() => loadServingConfig({ NODE_ENV: 'test' })).toThrow(/JWT_SECRET is not set/);
    expect(() => loadServingConfig({ NODE_ENV: 'production' })).toThrow(/JWT_SECRET/);
    expect(loadServingConfig({ NODE_ENV: 'development' }).NODE_ENV).toBe('development');
    expect(loadServingConfig({ JWT_SECRET: STRONG_SECRET }).JWT_SECRET).toBe(STRONG_SECRET);
  });
});
