import fc from 'fast-check';
import { ERROR_STATUS } from '../src/common/domain-error';
import { API_HEADER_VALUES, API_RESPONSE_HEADERS, helmetHeaders } from '../src/common/security-headers';
import { ApiResponse, RequestOptions } from './support/http-client';
import { TestApp, startTestApp } from './support/test-app';

const STACK_TRACE = /\bat .+:\d+:\d+|node_modules|QueryFailedError|TypeError|ReferenceError/;

describe('hostile input: always a 4xx with a code, never a 500, never a write', () => {
  let t: TestApp;
  let admin: string;
  let user: string;
  let deletedUserToken: string;

  const dbState = async () =>
    (
      await t.sql(`SELECT (SELECT count(*) FROM users)::int AS users, (SELECT count(*) FROM coupons)::int AS coupons,
                         (SELECT count(*) FROM user_claims)::int AS claims, (SELECT count(*) FROM deleted_users)::int AS deleted,
                         (SELECT coalesce(sum(remaining_amount), 0) FROM coupons)::int AS remaining`)
    )[0];

  /** A client error in the contract's shape, with no internals in it. */
  function expectCleanClientError(res: ApiResponse, method = 'POST'): void {
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect(res.text).not.toMatch(STACK_TRACE);
    if (method === 'HEAD') return;
    expect(Object.keys(ERROR_STATUS)).toContain(res.body?.code);
    expect(res.body.statusCode).toBe(res.status);
  }

  beforeAll(async () => {
    t = await startTestApp({ BODY_LIMIT_BYTES: 16384 });
    admin = await t.adminToken();
    user = await t.api.newUser('victim');
    deletedUserToken = await t.api.newUser('departed');
    await t.api.request('DELETE', '/api/users/departed', { token: admin });
    await t.api.createCoupon(admin, 'SALE', 5);
  });
  afterAll(() => t.close());

  const deep = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
  const deepObject = (depth: number) => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
  const register = (body: string, contentType = 'application/json'): [string, string, RequestOptions] => [
    'POST',
    '/api/users/register',
    { rawBody: body, headers: { 'content-type': contentType } },
  ];
  const createCoupon = (body: string): [string, string, RequestOptions] => [
    'POST',
    '/api/coupons',
    { rawBody: body, headers: { 'content-type': 'application/json' }, token: '<admin>' },
  ];
  const claim = (body: string): [string, string, RequestOptions] => [
    'POST',
    '/api/coupons/claim',
    { rawBody: body, headers: { 'content-type': 'application/json' }, token: '<user>' },
  ];

  const cases: [string, [string, string, RequestOptions], number, string][] = [
    [
      'body over BODY_LIMIT_BYTES',
      register(JSON.stringify({ username: 'big_body', password: 'x'.repeat(20_000) })),
      413,
      'PAYLOAD_TOO_LARGE',
    ],
    ['5,000-deep array as a field', register(`{"username":${deep(5000)},"password":"password123"}`), 400, 'VALIDATION_FAILED'],
    [
      '2,000-deep object as an extra field',
      register(`{"username":"deep_one","password":"password123","x":${deepObject(2000)}}`),
      400,
      'VALIDATION_FAILED',
    ],
    ['2,000-deep object as the amount', createCoupon(`{"name":"DEEP","amount":${deepObject(2000)}}`), 400, 'VALIDATION_FAILED'],
    [
      'huge array as the username',
      register(`{"username":[${Array(4000).fill(1).join(',')}],"password":"password123"}`),
      400,
      'VALIDATION_FAILED',
    ],
    [
      '__proto__ key',
      register('{"username":"proto_user","password":"password123","__proto__":{"role":"admin"}}'),
      400,
      'VALIDATION_FAILED',
    ],
    [
      'constructor.prototype key',
      register('{"username":"ctor_user","password":"password123","constructor":{"prototype":{"role":"admin"}}}'),
      400,
      'VALIDATION_FAILED',
    ],
    ['nested __proto__ in a claim', claim('{"coupon_name":"SALE","user_id":{"__proto__":{"x":1}}}'), 400, 'VALIDATION_FAILED'],
    [
      'role smuggled into registration',
      register('{"username":"climber","password":"password123","role":"admin"}'),
      400,
      'VALIDATION_FAILED',
    ],
    [
      'Cyrillic look-alike of the admin name',
      register(JSON.stringify({ username: 'аdmin', password: 'password123' })),
      400,
      'VALIDATION_FAILED',
    ],
    [
      'zero-width space in a name',
      register(JSON.stringify({ username: 'admin\u200b', password: 'password123' })),
      400,
      'VALIDATION_FAILED',
    ],
    [
      'right-to-left override in a name',
      register(JSON.stringify({ username: 'ad\u202enim', password: 'password123' })),
      400,
      'VALIDATION_FAILED',
    ],
    [
      'fullwidth letters in a name',
      register(JSON.stringify({ username: 'ａｄｍｉｎ', password: 'password123' })),
      400,
      'VALIDATION_FAILED',
    ],
    ['NUL in a name', register(JSON.stringify({ username: 'nul\u0000user', password: 'password123' })), 400, 'VALIDATION_FAILED'],
    ['NUL in a password', register(JSON.stringify({ username: 'nulpass', password: 'password\u0000123' })), 400, 'VALIDATION_FAILED'],
    ['lone surrogate in a coupon name', createCoupon('{"name":"SALE\\ud800","amount":5}'), 400, 'VALIDATION_FAILED'],
    ['combining accent in a coupon name', createCoupon(JSON.stringify({ name: 'SALE\u0301', amount: 5 })), 400, 'VALIDATION_FAILED'],
    ['SQL in a username', register(JSON.stringify({ username: "x' OR '1'='1", password: 'password123' })), 400, 'VALIDATION_FAILED'],
    ['SQL in a coupon name', createCoupon(JSON.stringify({ name: "X'; DROP TABLE coupons; --", amount: 5 })), 400, 'VALIDATION_FAILED'],
    ['SQL in a claimed coupon name', claim(JSON.stringify({ coupon_name: "SALE' OR 1=1 --" })), 400, 'VALIDATION_FAILED'],
    ['operator object as a username', register('{"username":{"$ne":null},"password":"password123"}'), 400, 'VALIDATION_FAILED'],
    ['amount as a string', createCoupon('{"name":"STR","amount":"5"}'), 400, 'VALIDATION_FAILED'],
    ['amount as a float', createCoupon('{"name":"FLT","amount":2.5}'), 400, 'VALIDATION_FAILED'],
    ['amount in exponent notation beyond the limit', createCoupon('{"name":"EXP","amount":1e9}'), 400, 'VALIDATION_FAILED'],
    ['amount as a boolean', createCoupon('{"name":"BOOL","amount":true}'), 400, 'VALIDATION_FAILED'],
    ['amount negative', createCoupon('{"name":"NEG","amount":-1}'), 400, 'VALIDATION_FAILED'],
    ['amount as an array', createCoupon('{"name":"ARR","amount":[5]}'), 400, 'VALIDATION_FAILED'],
    ['amount past 2^53', createCoupon('{"name":"HUGE","amount":9007199254740993}'), 400, 'VALIDATION_FAILED'],
    ['username as a number string is fine but too short', register('{"username":"12","password":"password123"}'), 400, 'VALIDATION_FAILED'],
    ['array where the object belongs', createCoupon('[{"name":"LIST","amount":5}]'), 400, 'VALIDATION_FAILED'],
    ['array of claims', claim('[{"coupon_name":"SALE"},{"coupon_name":"SALE"}]'), 400, 'VALIDATION_FAILED'],
    ['user_id as an array', claim('{"coupon_name":"SALE","user_id":["victim"]}'), 400, 'VALIDATION_FAILED'],
    ['text/plain', register('{"username":"plain_text","password":"password123"}', 'text/plain'), 400, 'VALIDATION_FAILED'],
    ['form encoded', register('username=form_user&password=password123', 'application/x-www-form-urlencoded'), 400, 'VALIDATION_FAILED'],
    [
      'multipart',
      register('--x\r\nContent-Disposition: form-data; name="username"\r\n\r\nmulti\r\n--x--', 'multipart/form-data; boundary=x'),
      400,
      'VALIDATION_FAILED',
    ],
    ['JSON labelled as XML', register('{"username":"xml_user","password":"password123"}', 'application/xml'), 400, 'VALIDATION_FAILED'],
    ['truncated JSON', register('{"username":"cut_user","password":"pass'), 400, 'VALIDATION_FAILED'],
    ['trailing garbage after JSON', register('{"username":"tail_user","password":"password123"}xyz'), 400, 'VALIDATION_FAILED'],
    [
      'SQL in a path parameter',
      ['GET', `/api/coupons/${encodeURIComponent("SALE' OR '1'='1")}`, { token: '<user>' }],
      400,
      'VALIDATION_FAILED',
    ],
    ['path traversal', ['GET', '/api/coupons/..%2F..%2Fetc%2Fpasswd', { token: '<user>' }], 400, 'VALIDATION_FAILED'],
    ['unicode path parameter', ['GET', `/api/coupons/${encodeURIComponent('ЅALE')}`, { token: '<user>' }], 400, 'VALIDATION_FAILED'],
    ['invalid percent-encoding in the path', ['GET', '/api/coupons/%E0%A4%A', { token: '<user>' }], 400, 'VALIDATION_FAILED'],
  ];

  it.each(cases)('%s', async (_, [method, path, options], status, code) => {
    const token = options.token === '<admin>' ? admin : options.token === '<user>' ? user : options.token;
    const before = await dbState();
    const res = await t.api.request(method, path, { ...options, token });
    expect(res.status).toBe(status);
    expect(res.body.code).toBe(code);
    expectCleanClientError(res, method);
    expect(await dbState()).toEqual(before);
    expect(await t.sql("SELECT 1 FROM users WHERE role = 'admin' AND username <> 'admin'")).toHaveLength(0);
    expect(({} as Record<string, unknown>).role).toBeUndefined(); // no prototype pollution in this process
  });

  it('property: generated methods, paths, headers and bodies never get a 5xx or a stack trace, and every 4xx leaves the database unchanged', async () => {
    const text = fc.string({ maxLength: 40 });
    const printable = fc.stringMatching(/^[ -~]{0,40}$/);
    const nameLike = fc.oneof(
      text,
      fc.constantFrom('SALE', 'victim', 'admin', "' OR 1=1 --", '__proto__', 'аdmin', ''),
      fc.stringMatching(/^[A-Za-z0-9_-]{1,70}$/),
    );
    const scalar = fc.oneof(
      nameLike,
      fc.integer(),
      fc.double(),
      fc.boolean(),
      fc.constant(null),
      fc.constantFrom('5', '1e3', '-1', '0x10'),
    );
    const value = fc.oneof(scalar, fc.array(scalar, { maxLength: 4 }), fc.dictionary(text, scalar, { maxKeys: 3 }));
    const body = fc.oneof(
      fc.record({ username: value, password: value }, { requiredKeys: [] }).map((b) => JSON.stringify(b)),
      fc.record({ name: value, amount: value }, { requiredKeys: [] }).map((b) => JSON.stringify(b)),
      fc.record({ coupon_name: value, user_id: value }, { requiredKeys: [] }).map((b) => JSON.stringify(b)),
      fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
      fc.constantFrom('{"__proto__":{"role":"admin"}}', '{"constructor":{"prototype":{"role":"admin"}}}', deep(3000), '{', '', 'null'),
      text,
    );
    const route = fc.oneof(
      fc.constantFrom(
        '/api/users/register',
        '/api/users/login',
        '/api/coupons',
        '/api/coupons/claim',
        '/api/coupons/SALE',
        '/api/healthcheck',
        '/api/users/victim',
      ),
      fc.tuple(fc.constantFrom('/api/coupons/', '/api/users/', '/api/', '/'), text).map(([prefix, s]) => prefix + encodeURIComponent(s)),
      fc.webPath(),
    );
    const authorization = fc.oneof(
      fc.constant(undefined),
      fc.constantFrom('<admin>', '<user>', '<deleted>'),
      printable.map((s) => `Bearer ${s}`),
      printable,
    );
    const contentType = fc.oneof(
      fc.constant(undefined),
      fc.constantFrom(
        'application/json',
        'application/json; charset=utf-8',
        'text/plain',
        'application/x-www-form-urlencoded',
        'multipart/form-data; boundary=x',
        'application/xml',
      ),
      printable,
    );
    const request = fc.record({
      method: fc.constantFrom('GET', 'POST', 'POST', 'POST', 'DELETE', 'PUT', 'PATCH', 'HEAD', 'OPTIONS'),
      path: route,
      body,
      authorization,
      contentType,
      extraHeader: fc.option(
        fc.tuple(fc.constantFrom('x-forwarded-for', 'origin', 'accept', 'x-http-method-override', 'cookie'), printable),
      ),
    });

    let requests = 0;
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        requests++;
        const headers: Record<string, string> = {};
        if (r.contentType !== undefined) headers['content-type'] = r.contentType;
        if (r.extraHeader) headers[r.extraHeader[0]] = r.extraHeader[1];
        const tokens: Record<string, string> = { '<admin>': admin, '<user>': user, '<deleted>': deletedUserToken };
        if (r.authorization !== undefined)
          headers.authorization = tokens[r.authorization] ? `Bearer ${tokens[r.authorization]}` : r.authorization;
        const withBody = !['GET', 'HEAD'].includes(r.method);
        const before = await dbState();
        const res = await t.api.request(r.method, r.path, { headers, rawBody: withBody ? r.body : undefined });
        expect(res.status).toBeLessThan(500);
        expect(res.text).not.toMatch(STACK_TRACE);
        if (res.status >= 400) {
          expectCleanClientError(res, r.method);
          expect(await dbState()).toEqual(before);
        }
      }),
      { numRuns: 250, seed: Number(process.env.FC_SEED ?? Date.now() % 2 ** 31) },
    );
    expect(requests).toBeGreaterThanOrEqual(250);
    expect(({} as Record<string, unknown>).role).toBeUndefined();
  });
});

describe('response headers', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it.each([
    ['a 200', '/api/healthcheck'],
    ['a 404', '/api/nowhere'],
    ['a 401', '/api/coupons/SALE'],
    ['the liveness probe', '/api/healthcheck/live'],
  ])('the security headers that act on any response on %s, with the API policy; no X-Powered-By, no CORS', async (_, path) => {
    const res = await t.api.get(path, { headers: { origin: 'https://evil.example' } });
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    // OWASP REST Security Cheat Sheet's values for an API answer: it loads nothing and is never framed.
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    expect(res.headers.get('content-security-policy')).toBe("default-src 'none'; frame-ancestors 'none'");
    expect(res.headers.get('strict-transport-security')).toMatch(/max-age=\d+/);
    expect(res.headers.get('cross-origin-resource-policy')).toBe('same-origin');
    // Computed once at start-up: each header an API answer carries is there, with helmet's value where the cheat sheet has none.
    const helmet = helmetHeaders();
    for (const name of API_RESPONSE_HEADERS) expect([name, res.headers.get(name)]).toEqual([name, API_HEADER_VALUES[name] ?? helmet[name]]);
    // The document-only ones (what a rendered page may load, link to or share) are not sent with JSON.
    for (const name of Object.keys(helmet).filter((n) => !(API_RESPONSE_HEADERS as readonly string[]).includes(n))) {
      expect([name, res.headers.get(name)]).toEqual([name, null]);
    }
    expect(res.headers.get('x-powered-by')).toBeNull();
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
  });

  it.each([
    ['the docs page', '/api/docs'],
    ['an asset of the docs page', '/api/docs/swagger-ui.css'],
  ])("every one of helmet's headers on %s (the only HTML the service serves)", async (_, path) => {
    const res = await t.api.get(path);
    expect(res.status).toBe(200);
    for (const [name, value] of Object.entries(helmetHeaders())) expect([name, res.headers.get(name)]).toEqual([name, value]);
    expect(res.headers.get('cross-origin-opener-policy')).toBe('same-origin');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    expect(res.headers.get('x-xss-protection')).toBe('0');
  });

  it('a CORS preflight is refused (404) when CORS_ORIGINS is empty', async () => {
    const res = await t.api.request('OPTIONS', '/api/coupons/claim', {
      headers: { origin: 'https://shop.example', 'access-control-request-method': 'POST' },
    });
    expect(res.status).toBe(404);
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('with CORS_ORIGINS, only the listed origins are allowed', async () => {
    const cors = await startTestApp({ CORS_ORIGINS: 'https://shop.example,http://localhost:8080' });
    try {
      const preflight = (origin: string) =>
        cors.api.request('OPTIONS', '/api/coupons/claim', { headers: { origin, 'access-control-request-method': 'POST' } });
      const allowed = await preflight('https://shop.example');
      expect(allowed.status).toBeLessThan(300);
      expect(allowed.headers.get('access-control-allow-origin')).toBe('https://shop.example');
      const other = await preflight('https://evil.example');
      expect(other.headers.get('access-control-allow-origin')).toBeNull();
      const get = await cors.api.get('/api/healthcheck', { headers: { origin: 'http://localhost:8080' } });
      expect(get.headers.get('access-control-allow-origin')).toBe('http://localhost:8080');
      expect(get.headers.get('x-content-type-options')).toBe('nosniff');
    } finally {
      await cors.close();
    }
  });
});
