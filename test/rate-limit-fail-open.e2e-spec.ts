import { ApiClient } from './support/http-client';
import { logSink } from './support/log-sink';
import { RedisNode } from '../harness/redis-node';
import { couponInvariants, startTestApp } from './support/test-app';

const login = (api: ApiClient, username: string, headers: Record<string, string> = {}) =>
  api.post('/api/users/login', { username, password: 'wrong-password' }, { headers });

/** Its own file: the app that writes the captured log must be the first of its jest file. */
describe('rate limits when Redis is down', () => {
  it('fails open when Redis is down: logins still answer, claims keep their LOCK_UNAVAILABLE', async () => {
    const node = await RedisNode.start();
    const { stream, lines: logged } = logSink();
    const t = await startTestApp(
      {
        REDIS_URLS: node.url,
        REDIS_COMMAND_TIMEOUT_MS: 300,
        LOGIN_RATE_LIMIT_PER_USERNAME: 2,
        CLAIM_RATE_LIMIT_PER_USER: 1,
        LOG_LEVEL: 'warn',
      },
      { logDestination: stream },
    );
    try {
      const admin = await t.adminToken();
      await t.api.createCoupon(admin, 'DARK', 5);
      const token = await t.api.newUser('insomniac');
      await node.kill();
      const logins = [];
      for (let i = 0; i < 4; i++) logins.push((await login(t.api, 'insomniac')).status);
      expect(logins).toEqual([401, 401, 401, 401]); // the per-username limit of 2 is not enforced
      expect((await t.api.post('/api/users/login', { username: 'insomniac', password: 'password123' })).status).toBe(200);
      for (let i = 0; i < 2; i++) {
        const claim = await t.api.claim(token, 'DARK');
        expect(claim.status).toBe(503);
        expect(claim.body.code).toBe('LOCK_UNAVAILABLE');
      }
      expect(await couponInvariants(t, 'DARK')).toMatchObject({ remaining_amount: 5, rows: 0 });
      // One warning, not one per request.
      expect(logged.filter((line) => line.includes('rate limits are not enforced'))).toHaveLength(1);
    } finally {
      await t.close();
      await node.kill();
    }
  });
});
