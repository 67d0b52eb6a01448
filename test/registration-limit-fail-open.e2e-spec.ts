import { logSink } from './support/log-sink';
import { RedisNode } from '../harness/redis-node';
import { startTestApp } from './support/test-app';

/** Its own file: the app that writes the captured log must be the first of its jest file. */
describe('registration limit when Redis is down', () => {
  it('fails open: registrations still answer 201 past the limit, with one warning, not one per request', async () => {
    const node = await RedisNode.start();
    const { stream, lines: logged } = logSink();
    const t = await startTestApp(
      {
        REDIS_URLS: node.url,
        REDIS_COMMAND_TIMEOUT_MS: 300,
        REGISTRATION_RATE_LIMIT_PER_ADDRESS: 2,
        TRUST_PROXY: 'true',
        LOG_LEVEL: 'warn',
      },
      { logDestination: stream },
    );
    const from = (address: string, username: string) =>
      t.api.post('/api/users/register', { username, password: 'password123' }, { headers: { 'x-forwarded-for': address } });
    try {
      // While Redis answers, the limit holds.
      const before = [];
      for (let i = 0; i < 3; i++) before.push((await from('203.0.113.1', `before_${i}`)).status);
      expect(before).toEqual([201, 201, 429]);
      await node.kill();
      // The address this process already saw over its limit stays refused until its window ends (no Redis needed).
      expect((await from('203.0.113.1', 'known_over')).status).toBe(429);
      const statuses = [];
      for (let i = 0; i < 6; i++) statuses.push((await from('203.0.113.2', `dark_${i}`)).status);
      expect(statuses).toEqual([201, 201, 201, 201, 201, 201]); // the limit of 2 is not enforced
      expect(await t.sql(`SELECT count(*)::int AS n FROM users WHERE username LIKE 'dark_%'`)).toEqual([{ n: 6 }]);
      expect(logged.filter((line) => line.includes('rate limits are not enforced'))).toHaveLength(1);
    } finally {
      await t.close();
      await node.kill();
    }
  });
});
