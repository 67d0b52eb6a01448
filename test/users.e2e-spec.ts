import { ADMIN, TestApp, startTestApp } from './support/test-app';

describe('users: register and login', () => {
  let t: TestApp;
  beforeAll(async () => (t = await startTestApp()));
  afterAll(() => t.close());

  it('registers a user with the contract shape and never returns the hash', async () => {
    const res = await t.api.register('alice', 'password123');
    expect(res.status).toBe(201);
    expect(Object.keys(res.body).sort()).toEqual(['created_at', 'id', 'role', 'username']);
    expect(res.body).toMatchObject({ username: 'alice', role: 'user' });
    expect(typeof res.body.id).toBe('number');
    expect(new Date(res.body.created_at).toString()).not.toBe('Invalid Date');
    expect(res.text).not.toMatch(/\$2[aby]\$/);
    const [row] = await t.sql('SELECT password_hash FROM users WHERE username = $1', ['alice']);
    expect(row.password_hash).toMatch(/^\$2b\$04\$/); // bcrypt's native binding really hashed it
  });

  it('refuses a taken username with 409 USERNAME_TAKEN, and the admin name even before it logs in', async () => {
    await t.api.register('bob', 'password123');
    const again = await t.api.register('bob', 'other-password');
    expect(again.status).toBe(409);
    expect(again.body).toEqual({ statusCode: 409, code: 'USERNAME_TAKEN', message: expect.any(String) });
    const admin = await t.api.register(ADMIN.username, 'password123');
    expect(admin.status).toBe(409);
  });

  it.each([
    ['too short username', { username: 'ab', password: 'password123' }],
    ['bad characters', { username: 'bad name!', password: 'password123' }],
    ['65 chars', { username: 'a'.repeat(65), password: 'password123' }],
    ['7-byte password', { username: 'carol', password: '1234567' }],
    ['73-byte password', { username: 'carol', password: 'a'.repeat(73) }],
    ['73 bytes of multibyte characters (37 chars)', { username: 'carol', password: 'é'.repeat(36) + 'a' }],
    ['number as username', { username: 12345, password: 'password123' }],
    ['missing password', { username: 'carol' }],
    ['unknown field', { username: 'carol', password: 'password123', role: 'admin' }],
  ])('400 VALIDATION_FAILED for %s, nothing written', async (_, body) => {
    const res = await t.api.post('/api/users/register', body);
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('VALIDATION_FAILED');
    expect(res.body.statusCode).toBe(400);
    const rows = await t.sql("SELECT 1 FROM users WHERE username = 'carol'");
    expect(rows).toHaveLength(0);
  });

  it('accepts exactly 72 bytes and 3-char usernames', async () => {
    expect((await t.api.register('abc', 'a'.repeat(72))).status).toBe(201);
    expect(await t.api.login('abc', 'a'.repeat(72))).toEqual(expect.any(String));
  });

  it('registration never grants admin', async () => {
    const res = await t.api.register('mallory', 'password123');
    expect(res.body.role).toBe('user');
  });

  it('logs in with the contract shape', async () => {
    await t.api.register('dave', 'password123');
    const res = await t.api.post('/api/users/login', { username: 'dave', password: 'password123' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ access_token: expect.any(String), token_type: 'Bearer', expires_in: 3600 });
  });

  it('answers wrong password and unknown user with the same 401 body', async () => {
    await t.api.register('erin', 'password123');
    const wrong = await t.api.post('/api/users/login', { username: 'erin', password: 'password124' });
    const unknown = await t.api.post('/api/users/login', { username: 'nobody-here', password: 'password123' });
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(wrong.body).toEqual(unknown.body);
    expect(wrong.body.code).toBe('INVALID_CREDENTIALS');
  });

  it('the configured admin can log in with role admin', async () => {
    const token = await t.adminToken();
    const payload = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString());
    expect(payload.role).toBe('admin');
  });

  describe('malformed requests are 400 VALIDATION_FAILED, never 500', () => {
    it.each([
      ['broken JSON', '{"username": "x",', 'application/json'],
      ['JSON array', '[1,2]', 'application/json'],
      ['JSON string', '"hello"', 'application/json'],
      ['JSON null', 'null', 'application/json'],
      ['text/plain', 'username=x', 'text/plain'],
      ['xml', '<a/>', 'application/xml'],
      ['form', 'username=frank&password=password123', 'application/x-www-form-urlencoded'],
    ])('%s', async (_, rawBody, contentType) => {
      const res = await t.api.request('POST', '/api/users/register', { rawBody, headers: { 'content-type': contentType } });
      expect(res.status).toBe(400);
      expect(res.body.code).toBe('VALIDATION_FAILED');
      expect(res.text).not.toMatch(/at .*\.(js|ts):\d+/);
    });

    it('empty body', async () => {
      const res = await t.api.request('POST', '/api/users/login');
      expect(res.status).toBe(400);
      expect(res.body.code).toBe('VALIDATION_FAILED');
    });
  });

  it('unknown routes are 404 JSON with a code', async () => {
    for (const [method, path] of [
      ['GET', '/nope'],
      ['GET', '/api/users'],
      ['DELETE', '/api/coupons/X'],
      ['POST', '/api/healthcheck'],
    ]) {
      const res = await t.api.request(method, path);
      expect(res.status).toBe(404);
      expect(res.body).toEqual({ statusCode: 404, code: 'NOT_FOUND', message: expect.any(String) });
    }
  });
});
