import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { CaseInsensitiveUsernames1764100000000 } from '../migrations/1764100000000-CaseInsensitiveUsernames';
import { loadConfig } from '../src/config/config.loader';
import { createDataSource, dataSourceOptions, MIGRATIONS } from '../src/database/data-source';
import { ensureDatabaseExists, runMigrations } from '../src/database/database-setup';
import { dropDatabase } from '../harness/database-checks';
import { ADMIN, TestApp, couponInvariants, databaseUrl, isolatedNames, startTestApp } from './support/test-app';

describe('usernames are one name in any case', () => {
  let t: TestApp;
  beforeAll(async () => (t = await startTestApp()));
  afterAll(() => t.close());

  it('"Admin" is refused 409 USERNAME_TAKEN while "admin" exists, and so is any other case of a taken name', async () => {
    for (const name of ['Admin', 'ADMIN', 'aDmIn']) {
      const answer = await t.api.register(name);
      expect(answer.status).toBe(409);
      expect(answer.body).toEqual({ statusCode: 409, code: 'USERNAME_TAKEN', message: expect.any(String) });
    }
    expect((await t.api.register('Carol_Case')).status).toBe(201);
    const again = await t.api.register('carol_case');
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('USERNAME_TAKEN');
    expect(await t.sql(`SELECT username FROM users WHERE lower(username) IN ('admin', 'carol_case') ORDER BY id`)).toEqual([
      { username: ADMIN.username },
      { username: 'Carol_Case' },
    ]);
  });

  it('the same name registered in two cases at once: exactly one 201', async () => {
    const answers = await Promise.all(['Twin', 'TWIN', 'twin', 'tWiN'].map((name) => t.api.register(name)));
    expect(answers.map((a) => a.status).sort()).toEqual([201, 409, 409, 409]);
    expect(await t.sql(`SELECT count(*)::int AS n FROM users WHERE lower(username) = 'twin'`)).toEqual([{ n: 1 }]);
  });

  it('login accepts any case; the token, the profile, claims and listings show the stored spelling', async () => {
    await t.api.register('MixedCase');
    const token = await t.api.login('mixedcase');
    expect((await t.api.get('/api/users/me', { token })).body.username).toBe('MixedCase');
    await t.api.login('MIXEDCASE');
    expect((await t.api.post('/api/users/login', { username: 'mixedCASE', password: 'wrong-password' })).status).toBe(401);

    const admin = await t.adminToken();
    await t.api.createCoupon(admin, 'CASES', 5);
    // user_id names the token's user in another case: the same person, so no USER_MISMATCH.
    const claim = await t.api.claim(token, 'CASES', { user_id: 'MIXEDCASE' });
    expect(claim.status).toBe(200);
    expect(claim.body.user_id).toBe('MixedCase');
    expect((await t.api.claim(token, 'CASES', { user_id: 'someone_else' })).body.code).toBe('USER_MISMATCH');
    expect((await t.api.get('/api/coupons/CASES', { token })).body.claimed_by).toEqual(['MixedCase']);
    expect(await couponInvariants(t, 'CASES')).toMatchObject({ remaining_amount: 4, rows: 1 });
  });

  it('the admin logs in under any case of its name and deletes a user named in any case, but not itself', async () => {
    const admin = await t.api.login('ADMIN', ADMIN.password);
    await t.api.register('Doomed');
    expect((await t.api.request('DELETE', '/api/users/DOOMED', { token: admin })).status).toBe(204);
    expect(await t.sql(`SELECT 1 FROM users WHERE lower(username) = 'doomed'`)).toEqual([]);
    const self = await t.api.request('DELETE', '/api/users/Admin', { token: admin });
    expect(self.status).toBe(403);
    expect(self.body.code).toBe('CANNOT_DELETE_SELF');
  });
});

it('the per-username login limit counts a name in every case as one', async () => {
  const t = await startTestApp({ LOGIN_RATE_LIMIT_PER_USERNAME: 3 });
  try {
    await t.api.register('Guessed');
    const statuses = [];
    for (const name of ['guessed', 'GUESSED', 'Guessed', 'gUeSsEd']) {
      statuses.push((await t.api.post('/api/users/login', { username: name, password: 'wrong-password' })).status);
    }
    expect(statuses).toEqual([401, 401, 401, 429]);
  } finally {
    await t.close();
  }
});

describe('the case-insensitive migration on a database that already holds case-duplicates', () => {
  const before = MIGRATIONS.filter((m) => m !== CaseInsensitiveUsernames1764100000000);
  let url: string;
  let db: Client;
  let dataSource: DataSource;

  beforeEach(async () => {
    url = databaseUrl(isolatedNames().database);
    const config = loadConfig({ DATABASE_URL: url, DATABASE_POOL_SIZE: 2 }, {});
    await ensureDatabaseExists(config);
    // The schema as it was before this migration.
    const old = new DataSource({ ...dataSourceOptions(config), migrations: before });
    await old.initialize();
    await runMigrations(old);
    await old.destroy();
    dataSource = createDataSource(config);
    db = new Client({ connectionString: url });
    await db.connect();
  });

  afterEach(async () => {
    await db.end();
    if (dataSource.isInitialized) await dataSource.destroy();
    await dropDatabase(url);
  });

  const insertUser = async (username: string, role = 'user'): Promise<string> =>
    (await db.query(`INSERT INTO users (username, password_hash, role) VALUES ($1, 'x', $2) RETURNING id`, [username, role])).rows[0].id;

  it('keeps the admin, else the oldest, renames the others "<name>-renamed-<id>" with their claims, then refuses new duplicates', async () => {
    const impostor = await insertUser('Admin');
    const admin = await insertUser('admin', 'admin');
    const bob = await insertUser('bob');
    const bob2 = await insertUser('Bob');
    const bob3 = await insertUser('BOB');
    const long = await insertUser('L'.repeat(64));
    const long2 = await insertUser('l'.repeat(64));
    const alone = await insertUser('Alone');
    const [{ id: coupon }] = (await db.query(`INSERT INTO coupons (name, amount, remaining_amount) VALUES ('HELD', 2, 1) RETURNING id`))
      .rows;
    await db.query(`INSERT INTO user_claims (user_id, coupon_id) VALUES ($1, $2)`, [bob2, coupon]);

    await dataSource.initialize();
    await runMigrations(dataSource);

    const names = Object.fromEntries((await db.query(`SELECT id, username FROM users`)).rows.map((r) => [r.id, r.username]));
    expect(names).toEqual({
      [admin]: 'admin',
      [impostor]: `Admin-renamed-${impostor}`,
      [bob]: 'bob',
      [bob2]: `Bob-renamed-${bob2}`,
      [bob3]: `BOB-renamed-${bob3}`,
      [long]: 'L'.repeat(64),
      [long2]: `${'l'.repeat(64 - `-renamed-${long2}`.length)}-renamed-${long2}`,
      [alone]: 'Alone',
    });
    for (const name of Object.values(names)) expect(name).toMatch(/^[A-Za-z0-9_.-]{3,64}$/);
    // The renamed holder keeps its coupon.
    expect((await db.query(`SELECT user_id FROM user_claims`)).rows).toEqual([{ user_id: bob2 }]);
    await expect(db.query(`INSERT INTO users (username, password_hash) VALUES ('ALONE', 'x')`)).rejects.toThrow(/users_username_lower_key/);

    // down: back to case-sensitive uniqueness (the renames stay).
    await dataSource.undoLastMigration({ transaction: 'each' });
    await db.query(`INSERT INTO users (username, password_hash) VALUES ('ALONE', 'x')`);
    await expect(db.query(`INSERT INTO users (username, password_hash) VALUES ('Alone', 'x')`)).rejects.toThrow(/users_username_key/);
  });

  it('stops with a message naming the rows, and changes nothing, when a new name is already taken', async () => {
    await insertUser('carl');
    const carl2 = await insertUser('Carl');
    await insertUser(`carl-RENAMED-${carl2}`);
    await dataSource.initialize();
    await expect(runMigrations(dataSource)).rejects.toThrow(
      new RegExp(`user ${carl2} \\("Carl"\\) would be renamed "Carl-renamed-${carl2}"`),
    );
    expect((await db.query(`SELECT username FROM users ORDER BY id`)).rows.map((r) => r.username)).toEqual([
      'carl',
      'Carl',
      `carl-RENAMED-${carl2}`,
    ]);
    expect((await db.query(`SELECT count(*)::int AS n FROM typeorm_migrations`)).rows).toEqual([{ n: before.length }]);
  });
});
