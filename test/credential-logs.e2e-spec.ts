import { ApiResponse } from './support/http-client';
import { logSink } from './support/log-sink';
import { ADMIN, TestApp, startTestApp } from './support/test-app';

const BCRYPT_HASH = /\$2[aby]\$\d\d\$/;

/** Its own file: the app that writes the captured log must be the first of its jest file. */
describe('credentials in logs', () => {
  it('no response and no log line ever carries a hash, a password or a token', async () => {
    const { stream, lines: captured } = logSink();

    const password = 'Sup3r-secret-passphrase';
    const responses: ApiResponse[] = [];
    let tokens: string[] = [];
    let t: TestApp | undefined;
    try {
      // Every level on: whatever the service logs, it is in `captured`.
      t = await startTestApp({ LOG_LEVEL: 'verbose', LOGIN_RATE_LIMIT_PER_USERNAME: 2 }, { logDestination: stream });
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
      await t?.close();
    }

    const logs = captured.join('\n');
    expect(logs).toContain('admin account'); // the capture really saw the service's log
    const messages = captured.map((line) => String(JSON.parse(line).msg));
    expect(messages).toContain('user "short_lived" deleted by "admin"');
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
