import { loadConfig } from '../src/config/config.loader';
import { startTestApp } from './support/test-app';

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
});
