import { loadConfig } from '../src/config/config.loader';
import { ApiResponse } from './support/http-client';
import { ADMIN, TestApp, startTestApp } from './support/test-app';

const BCRYPT_HASH = /\$2[aby]\$\d\d\$/;

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
};

describe('credentials', () => {
  it('bcrypt cost comes from config, default at least 10', async () => {
    expect(loadConfig({}, {}).BCRYPT_COST).toBeGreaterThanOrEqual(10);
    const t = await startTestApp({ BCRYPT_COST: 6 });
    try {
      await t.api.register('costly');
      const [row] = await t.sql("SELECT password_hash FROM users WHERE username = 'costly'");
      expect(row.password_hash).toMatch(/^\$2b\$06\$/);
    } finally {
      await t.close();
    }
  });

  it('a login for an unknown user takes about as long as a wrong password for a known one (ratio of medians)', async () => {
    // Cost 8: a compare (~10-20 ms) dominates the request, as a production cost would.
    const t = await startTestApp({ BCRYPT_COST: 8 });
    try {
      await t.api.register('known_user');
      const time = async (username: string) => {
        const started = process.hrtime.bigint();
        const res = await t.api.post('/api/users/login', { username, password: 'wrong-password' });
        expect(res.status).toBe(401);
        return Number(process.hrtime.bigint() - started) / 1e6;
      };
      await time('known_user'); // warm-up
      const known: number[] = [];
      const unknown: number[] = [];
      for (let i = 0; i < 15; i++) {
        known.push(await time('known_user'));
        unknown.push(await time(`ghost_${i}`));
      }
      const ratio = median(unknown) / median(known);
      expect(ratio).toBeGreaterThan(0.5);
      expect(ratio).toBeLessThan(2);
    } finally {
      await t.close();
    }
  });

  it('no response and no log line ever carries a hash, a password or a token', async () => {
    const captured: string[] = [];
    const originals = { out: process.stdout.write, err: process.stderr.write };
    const capture = (original: typeof process.stdout.write) =>
      function (this: NodeJS.WriteStream, chunk: unknown, ...rest: unknown[]) {
        captured.push(String(chunk));
        return (original as (...args: unknown[]) => boolean).call(this, chunk, ...rest);
      } as typeof process.stdout.write;
    process.stdout.write = capture(originals.out);
    process.stderr.write = capture(originals.err);

    const password = 'Sup3r-secret-passphrase';
    const responses: ApiResponse[] = [];
    let tokens: string[] = [];
    let t: TestApp | undefined;
    try {
      // Every level on: whatever the service logs, it is in `captured`.
      t = await startTestApp({ LOG_LEVEL: 'verbose', LOGIN_RATE_LIMIT_PER_USERNAME: 2 });
      const api = t.api;
      responses.push(await api.register('logged_user', password));
      responses.push(await api.register('logged_user', password)); // taken
      responses.push(await api.post('/api/users/login', { username: 'logged_user', password: password + 'x' }));
      const login = await api.post('/api/users/login', { username: 'logged_user', password });
      responses.push(await api.post('/api/users/login', { username: 'logged_user', password })); // 429
      responses.push(await api.post('/api/users/login', { username: 'nobody_at_all', password }));
      const token: string = login.body.access_token;
      const admin = await t.adminToken();
      tokens = [token, admin];
      responses.push(await api.createCoupon(admin, 'LOGGED', 2));
      responses.push(await api.claim(token, 'LOGGED'));
      responses.push(await api.claim(token, 'LOGGED'));
      responses.push(await api.get('/api/coupons/LOGGED', { token }));
      responses.push(await api.get('/api/coupons/LOGGED', { token: token + 'x' }));
      responses.push(await api.get('/api/coupons/LOGGED', { headers: { authorization: `Bearer ${token} extra` } }));
      responses.push(await api.createCoupon(token, 'NOPE', 1));
      responses.push(await api.request('DELETE', '/api/users/logged_user', { token: admin })); // holds a coupon
      responses.push(await api.register('short_lived', password));
      responses.push(await api.request('DELETE', '/api/users/short_lived', { token: admin }));
      expect(login.status).toBe(200);
      expect(responses.map((r) => r.status)).toEqual([201, 409, 401, 429, 401, 201, 200, 409, 200, 401, 401, 403, 409, 201, 204]);
      expect(login.text).toContain(token); // the one place a token belongs
    } finally {
      process.stdout.write = originals.out;
      process.stderr.write = originals.err;
      await t?.close();
    }

    const logs = captured.join('');
    expect(logs).toContain('admin account'); // the capture really saw the service's log
    expect(logs).toContain('user "short_lived" deleted by "admin"');
    for (const text of [logs, ...responses.map((r) => r.text)]) {
      expect(text).not.toMatch(BCRYPT_HASH);
      expect(text).not.toContain(password);
      expect(text).not.toContain(ADMIN.password);
      for (const token of tokens) {
        expect(text).not.toContain(token);
        expect(text).not.toContain(token.split('.')[2]); // not even the signature
      }
    }
  });
});
