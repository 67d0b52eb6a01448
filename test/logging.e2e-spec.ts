import { logSink } from './support/log-sink';
import { TestApp, startTestApp } from './support/test-app';

/** One app with debug level and a stream that collects every JSON line it writes. */
describe('structured logs', () => {
  let t: TestApp;
  const { stream: sink, lines } = logSink();
  const parsed = () => lines.map((line) => JSON.parse(line) as Record<string, any>);
  const requestLines = () => parsed().filter((entry) => entry.msg === 'request completed' || entry.msg === 'request failed');

  beforeAll(async () => {
    t = await startTestApp({ LOG_LEVEL: 'debug' }, { logDestination: sink });
  });
  afterAll(() => t.close());

  it('writes only JSON lines, start-up included', () => {
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(() => JSON.parse(line)).not.toThrow();
    // A suite's database is a clone of the migrated template: its start-up says so.
    expect(parsed().some((entry) => /applied migration|migrations up to date/.test(String(entry.msg)))).toBe(true);
  });

  it('one line per request with request id, method, route, status and duration; X-Request-Id is echoed', async () => {
    const before = requestLines().length;
    const given = await t.api.get('/api/coupons/SOMETHING', { headers: { 'x-request-id': 'trace-abc.123' } });
    expect(given.headers.get('x-request-id')).toBe('trace-abc.123');
    const made = await t.api.get('/api/healthcheck');
    const madeId = made.headers.get('x-request-id');
    expect(madeId).toMatch(/^[0-9a-f-]{36}$/);
    // A caller's id that could forge log content is replaced, not trusted.
    const forged = await t.api.get('/api/healthcheck', { headers: { 'x-request-id': 'a b\tc' } });
    expect(forged.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);

    const after = requestLines().slice(before);
    expect(after).toHaveLength(3);
    expect(after[0]).toMatchObject({
      request_id: 'trace-abc.123',
      method: 'GET',
      route: '/api/coupons/:name',
      path: '/api/coupons/SOMETHING',
      status: 401,
      duration_ms: expect.any(Number),
      level: 30,
    });
    expect(after[1]).toMatchObject({ request_id: madeId, route: '/api/healthcheck', status: 200 });
  });

  it('logs every request exactly once, outside the /api prefix and unknown URLs included', async () => {
    const before = requestLines().length;
    const paths = ['/metrics', '/api/docs-json', '/nope', '/api/nope?x=1'];
    const ids = [];
    for (const path of paths) ids.push((await t.api.get(path)).headers.get('x-request-id'));
    const after = requestLines().slice(before);
    expect(after.map((entry) => [entry.request_id, entry.path, entry.route])).toEqual([
      [ids[0], '/metrics', '/metrics'],
      [ids[1], '/api/docs-json', '/api/docs-json'],
      [ids[2], '/nope', 'unmatched'],
      [ids[3], '/api/nope', 'unmatched'],
    ]);
  });

  it('a claim adds coupon, outcome and lock wait to its request line', async () => {
    const admin = await t.adminToken();
    await t.api.createCoupon(admin, 'LOGGED', 1);
    const [alice, bob] = [await t.api.newUser('log_alice'), await t.api.newUser('log_bob')];
    const granted = await t.api.claim(alice, 'LOGGED');
    const sold = await t.api.claim(bob, 'LOGGED');
    expect([granted.status, sold.status]).toEqual([200, 409]);
    const byId = (id: string | null) => requestLines().find((entry) => entry.request_id === id);
    expect(byId(granted.headers.get('x-request-id'))).toMatchObject({
      route: '/api/coupons/claim',
      status: 200,
      coupon: 'LOGGED',
      outcome: 'GRANTED',
      lock_wait_ms: expect.any(Number),
    });
    expect(byId(sold.headers.get('x-request-id'))).toMatchObject({ status: 409, coupon: 'LOGGED', outcome: 'SOLD_OUT' });
    // Asked again, the answer comes from the sold-out fast path, before Nest: same line.
    await new Promise((r) => setTimeout(r, 200));
    const again = await t.api.claim(bob, 'LOGGED');
    expect(byId(again.headers.get('x-request-id'))).toMatchObject({
      status: 409,
      coupon: 'LOGGED',
      outcome: 'SOLD_OUT',
      lock_wait_ms: null,
    });
  });

  it('never logs a password, a hash or a token', async () => {
    const password = 'Secret-Passw0rd-for-logs';
    await t.api.register('log_carol', password);
    await t.api.register('log_carol', password); // 409
    await t.api.post('/api/users/login', { username: 'log_carol', password: 'wrong-' + password });
    const token = await t.api.login('log_carol', password);
    await t.api.get('/api/coupons/LOGGED', { token });
    await t.api.get('/api/coupons/LOGGED', { token: token + 'x' });
    await t.api.post('/api/coupons/claim', { coupon_name: 'LOGGED' }, { token });
    await t.api.post('/api/users/register', { username: 'log_dave', password: 'short' });
    const [{ password_hash: hash }] = await t.sql("SELECT password_hash FROM users WHERE username = 'log_carol'");
    const [, payload, signature] = token.split('.');

    const everything = lines.join('\n');
    expect(requestLines().length).toBeGreaterThan(10);
    for (const secret of [password, hash, token, payload, signature, 'admin-password-for-tests']) {
      expect(everything).not.toContain(secret);
    }
    expect(everything).not.toMatch(/authorization|bearer/i);
  });
});
