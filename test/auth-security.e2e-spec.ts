import { sign } from 'jsonwebtoken';
import { ADMIN, TestApp, startSiblingApp, startTestApp } from './support/test-app';

const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('authentication and authorisation', () => {
  let t: TestApp;
  let admin: string;
  let alice: string;
  let aliceId: string;
  const secret = () => t.config.JWT_SECRET;

  beforeAll(async () => {
    t = await startTestApp({ USER_REVOCATION_POLL_MS: 200 });
    admin = await t.adminToken();
    alice = await t.api.newUser('alice');
    aliceId = JSON.parse(Buffer.from(alice.split('.')[1], 'base64url').toString()).sub;
    await t.api.createCoupon(admin, 'AUTHZ', 5);
  });
  afterAll(() => t.close());

  const now = () => Math.floor(Date.now() / 1000);
  const claims = () => ({ sub: aliceId, username: 'alice', role: 'user' });

  describe('bad tokens are 401 with a code, on every protected route', () => {
    const cases: [string, () => string, string][] = [
      [
        'tampered payload (role: admin), original signature',
        () => {
          const [header, , signature] = alice.split('.');
          return `${header}.${b64({ ...claims(), role: 'admin', iat: now(), exp: now() + 600 })}.${signature}`;
        },
        'TOKEN_INVALID',
      ],
      ['tampered signature', () => alice.slice(0, -3) + (alice.endsWith('AAA') ? 'BBB' : 'AAA'), 'TOKEN_INVALID'],
      [
        'signed with another key',
        () => sign(claims(), 'another-secret-that-is-also-long-enough', { algorithm: 'HS256', expiresIn: 600 }),
        'TOKEN_INVALID',
      ],
      ['alg: none', () => `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ ...claims(), role: 'admin', exp: now() + 600 })}.`, 'TOKEN_INVALID'],
      [
        'HS512 with the right secret (only HS256 is accepted)',
        () => sign(claims(), secret(), { algorithm: 'HS512', expiresIn: 600 }),
        'TOKEN_INVALID',
      ],
      ['expired', () => sign({ ...claims(), exp: now() - 10 }, secret(), { algorithm: 'HS256' }), 'TOKEN_EXPIRED'],
      [
        'not yet valid (nbf in the future)',
        () => sign(claims(), secret(), { algorithm: 'HS256', notBefore: 600, expiresIn: 1200 }),
        'TOKEN_INVALID',
      ],
      [
        'valid signature but no subject',
        () => sign({ username: 'alice', role: 'user' }, secret(), { algorithm: 'HS256', expiresIn: 600 }),
        'TOKEN_INVALID',
      ],
      ['garbage', () => 'not-a-jwt', 'TOKEN_INVALID'],
      ['three empty parts', () => '..', 'TOKEN_INVALID'],
      [
        'payload segment that is not JSON (was a 500)',
        () => `${alice.split('.')[0]}.${Buffer.from('{"sub":"1"').toString('base64url')}.sig`,
        'TOKEN_INVALID',
      ],
      ['JSON header that is not an object', () => `${Buffer.from('"x"').toString('base64url')}.${b64(claims())}.sig`, 'TOKEN_INVALID'],
    ];

    it.each(cases)('%s', async (_, makeToken, code) => {
      const token = makeToken();
      for (const res of [
        await t.api.get('/api/coupons/AUTHZ', { token }),
        await t.api.claim(token, 'AUTHZ'),
        await t.api.createCoupon(token, 'FORGED', 5),
      ]) {
        expect(res.status).toBe(401);
        expect(res.body).toEqual({ statusCode: 401, code, message: expect.any(String) });
      }
      expect(await t.sql("SELECT 1 FROM coupons WHERE name = 'FORGED'")).toHaveLength(0);
      expect(await t.sql('SELECT 1 FROM user_claims')).toHaveLength(0);
    });

    it.each([
      ['no header', {}, 'UNAUTHORIZED'],
      ['Basic scheme', { authorization: 'Basic YWxpY2U6cGFzc3dvcmQxMjM=' }, 'TOKEN_INVALID'],
      ['Bearer with no token', { authorization: 'Bearer ' }, 'TOKEN_INVALID'],
      ['two tokens', { authorization: 'Bearer a.b.c d.e.f' }, 'TOKEN_INVALID'],
    ])('%s', async (_, headers, code) => {
      const res = await t.api.get('/api/coupons/AUTHZ', { headers: headers });
      expect(res.status).toBe(401);
      expect(res.body.code).toBe(code);
    });

    it('the genuine token works (the cases above fail for their reason, not by accident)', async () => {
      expect((await t.api.get('/api/coupons/AUTHZ', { token: alice })).status).toBe(200);
    });
  });

  describe('tokens verified once are remembered (JWT_VERIFIED_CACHE_SIZE), never past their terms', () => {
    it('an accepted token still expires on time', async () => {
      const exp = now() + 2;
      const token = sign({ ...claims(), exp }, secret(), { algorithm: 'HS256' });
      expect((await t.api.get('/api/coupons/AUTHZ', { token })).status).toBe(200);
      while (now() < exp) await new Promise((r) => setTimeout(r, 100));
      const late = await t.api.get('/api/coupons/AUTHZ', { token });
      expect(late.status).toBe(401);
      expect(late.body.code).toBe('TOKEN_EXPIRED');
    });

    it('a remembered token changed in one byte is checked again, and refused', async () => {
      expect((await t.api.get('/api/coupons/AUTHZ', { token: alice })).status).toBe(200);
      const [header, payload, signature] = alice.split('.');
      const flipped = (text: string, at: number) => text.slice(0, at) + (text[at] === 'A' ? 'B' : 'A') + text.slice(at + 1);
      for (const token of [
        `${header}.${payload}.${flipped(signature, 5)}`,
        `${header}.${flipped(payload, 10)}.${signature}`,
        `${header}.${b64({ ...claims(), role: 'admin', exp: now() + 600 })}.${signature}`,
      ]) {
        const res = await t.api.get('/api/coupons/AUTHZ', { token });
        expect(res.status).toBe(401);
        expect(res.body.code).toBe('TOKEN_INVALID');
      }
    });
  });

  describe('authorisation', () => {
    it('only an admin creates coupons: a user gets 403 FORBIDDEN and nothing is written', async () => {
      const res = await t.api.createCoupon(alice, 'USERMADE', 5);
      expect(res.status).toBe(403);
      expect(res.body.code).toBe('FORBIDDEN');
      expect(await t.sql("SELECT 1 FROM coupons WHERE name = 'USERMADE'")).toHaveLength(0);
      expect((await t.api.createCoupon(admin, 'ADMINMADE', 5)).status).toBe(201);
    });

    it('a user can never claim for another user: 403 USER_MISMATCH, nothing written', async () => {
      await t.api.newUser('bob');
      const res = await t.api.claim(alice, 'AUTHZ', { user_id: 'bob' });
      expect(res.status).toBe(403);
      expect(res.body.code).toBe('USER_MISMATCH');
      expect(await t.sql('SELECT 1 FROM user_claims')).toHaveLength(0);
      const [coupon] = await t.sql("SELECT remaining_amount FROM coupons WHERE name = 'AUTHZ'");
      expect(coupon.remaining_amount).toBe(5);
    });

    it('only an admin deletes users', async () => {
      await t.api.newUser('carol');
      const res = await t.api.request('DELETE', '/api/users/carol', { token: alice });
      expect(res.status).toBe(403);
      expect(res.body.code).toBe('FORBIDDEN');
      expect((await t.api.request('DELETE', '/api/users/carol')).body.code).toBe('UNAUTHORIZED');
      expect(await t.sql("SELECT 1 FROM users WHERE username = 'carol'")).toHaveLength(1);
    });
  });

  describe('deleting a user', () => {
    it('204, and the token stops working at once here and within the poll interval in another process', async () => {
      const other = await startSiblingApp(t);
      try {
        const token = await t.api.newUser('doomed');
        expect((await other.api.get('/api/coupons/AUTHZ', { token })).status).toBe(200);

        const res = await t.api.request('DELETE', '/api/users/doomed', { token: admin });
        expect(res.status).toBe(204);
        expect(res.text).toBe('');
        const deletedAt = Date.now();
        expect(await t.sql("SELECT 1 FROM users WHERE username = 'doomed'")).toHaveLength(0);

        const here = await t.api.get('/api/coupons/AUTHZ', { token });
        expect(here.status).toBe(401);
        expect(here.body.code).toBe('TOKEN_INVALID');

        let there = await other.api.get('/api/coupons/AUTHZ', { token });
        while (there.status === 200 && Date.now() - deletedAt < 5000) {
          await new Promise((r) => setTimeout(r, 20));
          there = await other.api.get('/api/coupons/AUTHZ', { token });
        }
        expect(there.status).toBe(401);
        expect(there.body.code).toBe('TOKEN_INVALID');
        // Bounded by USER_REVOCATION_POLL_MS (200 ms here) plus one query; 5 s is the hang guard.
        expect(Date.now() - deletedAt).toBeLessThan(2000);

        expect((await t.api.post('/api/users/login', { username: 'doomed', password: 'password123' })).body.code).toBe(
          'INVALID_CREDENTIALS',
        );
      } finally {
        await other.close();
      }
    });

    it('a process started after the deletion refuses the token from its first request', async () => {
      const token = await t.api.newUser('gone_before_start');
      expect((await t.api.request('DELETE', '/api/users/gone_before_start', { token: admin })).status).toBe(204);
      const fresh = await startSiblingApp(t);
      try {
        expect((await fresh.api.get('/api/coupons/AUTHZ', { token })).body.code).toBe('TOKEN_INVALID');
      } finally {
        await fresh.close();
      }
    });

    it('a process that has not heard of the deletion yet still cannot claim for the deleted user', async () => {
      const slow = await startSiblingApp(t, { USER_REVOCATION_POLL_MS: 60000 });
      try {
        const token = await t.api.newUser('ghost');
        expect((await t.api.request('DELETE', '/api/users/ghost', { token: admin })).status).toBe(204);
        const res = await slow.api.claim(token, 'AUTHZ');
        expect(res.status).toBe(401);
        expect(res.body.code).toBe('TOKEN_INVALID');
        expect(await t.sql('SELECT 1 FROM user_claims')).toHaveLength(0);
      } finally {
        await slow.close();
      }
    });

    it('re-registering the name gives a new account; the old token stays dead', async () => {
      const old = await t.api.newUser('phoenix');
      expect((await t.api.request('DELETE', '/api/users/phoenix', { token: admin })).status).toBe(204);
      const reborn = await t.api.newUser('phoenix');
      expect((await t.api.get('/api/coupons/AUTHZ', { token: reborn })).status).toBe(200);
      expect((await t.api.get('/api/coupons/AUTHZ', { token: old })).body.code).toBe('TOKEN_INVALID');
    });

    it('unknown user: 404 USER_NOT_FOUND; bad name: 400; the admin itself: 403 CANNOT_DELETE_SELF', async () => {
      const missing = await t.api.request('DELETE', '/api/users/nobody_here', { token: admin });
      expect(missing.status).toBe(404);
      expect(missing.body.code).toBe('USER_NOT_FOUND');
      const bad = await t.api.request('DELETE', `/api/users/${encodeURIComponent("x' OR 1=1 --")}`, { token: admin });
      expect(bad.status).toBe(400);
      expect(bad.body.code).toBe('VALIDATION_FAILED');
      const self = await t.api.request('DELETE', `/api/users/${ADMIN.username}`, { token: admin });
      expect(self.status).toBe(403);
      expect(self.body.code).toBe('CANNOT_DELETE_SELF');
      expect(await t.sql('SELECT 1 FROM users WHERE username = $1', [ADMIN.username])).toHaveLength(1);
    });

    it('a user holding a coupon cannot be deleted: 409 USER_HAS_CLAIMS, claim and stock untouched', async () => {
      await t.api.createCoupon(admin, 'KEEP', 3);
      const token = await t.api.newUser('holder');
      expect((await t.api.claim(token, 'KEEP')).status).toBe(200);
      const res = await t.api.request('DELETE', '/api/users/holder', { token: admin });
      expect(res.status).toBe(409);
      expect(res.body.code).toBe('USER_HAS_CLAIMS');
      expect(await t.sql('SELECT 1 FROM deleted_users du JOIN users u ON u.id = du.user_id')).toHaveLength(0);
      expect((await t.api.get('/api/coupons/KEEP', { token })).body).toMatchObject({ remaining_amount: 2, claimed_by: ['holder'] });
    });
  });
});
