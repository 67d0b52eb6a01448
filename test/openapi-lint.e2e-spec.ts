import { TcpProxy } from '../harness/tcp-proxy';
import { LintProblem, redoclyProblems, spectralProblems } from './support/openapi-lint';
import { TestApp, databaseUrl, isolatedNames, startTestApp } from './support/test-app';

type Schema = Record<string, any>;
const METHODS = ['get', 'put', 'post', 'delete', 'patch'];

/** Every operation of the document with its method and path. */
function operationsOf(doc: Schema): { method: string; path: string; operation: Schema }[] {
  return Object.entries(doc.paths as Record<string, Schema>).flatMap(([path, item]) =>
    METHODS.filter((method) => item[method]).map((method) => ({ method, path, operation: item[method] })),
  );
}

/**
 * A request each operation accepts up to the point where it needs the database: path
 * parameters and bodies that pass validation. Keyed by operationId, so a new operation without
 * an entry fails the DATABASE_UNAVAILABLE test below rather than being left out of it.
 */
const VALID_REQUEST: Record<string, { path?: Record<string, string>; body?: unknown; admin?: boolean }> = {
  registerUser: { body: { username: 'lint-newcomer', password: 'password123' } },
  logIn: { body: { username: 'lint-newcomer', password: 'password123' } },
  getMyProfile: {},
  deleteUser: { path: { username: 'lint-nobody' }, admin: true },
  listMyCoupons: {},
  createCoupon: { body: { name: 'LINT2', amount: 5 }, admin: true },
  listCoupons: { admin: true },
  getCoupon: { path: { name: 'LINT1' } },
  updateCoupon: { path: { name: 'LINT1' }, body: { amount: 7 }, admin: true },
  closeCouponSale: { path: { name: 'LINT1' }, admin: true },
  listCouponHolders: { path: { name: 'LINT1' } },
  claimCoupon: { body: { coupon_name: 'LINT1' } },
};

/** The probes and /metrics: no input, no database (readiness reports it down as SERVICE_UNAVAILABLE). */
const OPERATIONS_TAG = 'operations';

/**
 * The OpenAPI document against the two linters client generators and API portals use, and
 * the promises the linters cannot check: readable operation ids, `security` that matches what
 * the route really demands, and DATABASE_UNAVAILABLE documented wherever the route answers it.
 */
describe('OpenAPI document, linted', () => {
  let proxy: TcpProxy;
  let t: TestApp;
  let doc: Schema;

  beforeAll(async () => {
    // PostgreSQL through the test proxy, so the last test can take it away.
    proxy = await TcpProxy.start('127.0.0.1', 5432);
    const { database } = isolatedNames();
    t = await startTestApp({
      DATABASE_URL: databaseUrl(database, `postgres://postgres@127.0.0.1:${proxy.port}/postgres`),
    });
    const res = await t.api.get('/api/docs-json');
    expect(res.status).toBe(200);
    doc = res.body;
  });

  afterAll(async () => {
    proxy?.set('forward');
    await t?.close();
    await proxy?.close();
  });

  it("passes Spectral's spectral:oas ruleset: no errors; the only warning is the answered one", async () => {
    const problems = await spectralProblems(doc);
    expect(problems.filter((p) => p.severity === 'error')).toEqual([]);
    // Answered in decisions.md ("OpenAPI lint: the warnings left"): a summary on every operation, a description where it adds something.
    const unanswered = problems.filter((p) => p.severity === 'warning' && p.rule !== 'operation-description');
    expect(unanswered).toEqual([]);
    for (const { path, method, operation } of operationsOf(doc))
      expect({ path, method, summary: Boolean(operation.summary) }).toEqual({ path, method, summary: true });
  });

  it("passes Redocly's recommended ruleset: no errors; the only warning is the answered one", async () => {
    const problems = await redoclyProblems(doc);
    expect(problems.filter((p) => p.severity === 'error')).toEqual([]);
    // Answered in decisions.md: the probes and /metrics take no input, so they have no 4xx answer to document.
    const probes = operationsOf(doc)
      .filter(({ operation }) => operation.tags?.includes(OPERATIONS_TAG))
      .map(({ path, method }) => `#/paths/${path.replace(/\//g, '~1')}/${method}/responses`);
    const unanswered = problems.filter((p: LintProblem) => !(p.rule === 'operation-4xx-response' && probes.includes(p.where)));
    expect(unanswered).toEqual([]);
  });

  it('names every operation with a readable, unique camelCase id', () => {
    const ids = operationsOf(doc).map(({ operation }) => operation.operationId as string);
    for (const id of ids) expect({ id, readable: /^[a-z][a-zA-Z]+$/.test(id) && !/Controller/.test(id) }).toEqual({ id, readable: true });
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('declares servers, X-Request-Id on every answer and Retry-After on every retryable one', () => {
    expect(doc.servers).toEqual([{ url: '/', description: expect.any(String) }]);
    for (const { path, method, operation } of operationsOf(doc)) {
      for (const [status, response] of Object.entries(operation.responses as Record<string, Schema>)) {
        const where = `${method} ${path} ${status}`;
        expect({ where, requestId: response.headers?.['X-Request-Id'] }).toEqual({
          where,
          requestId: { $ref: '#/components/headers/X-Request-Id' },
        });
        const codes = Object.keys(response.content?.['application/json']?.examples ?? {});
        const retryable = ['429', '503'].includes(status) && codes.length > 0;
        if (retryable || codes.includes('SALE_NOT_STARTED'))
          expect({ where, retryAfter: response.headers?.['Retry-After']?.schema?.type }).toEqual({ where, retryAfter: 'integer' });
      }
    }
  });

  it('documents `security` as what the route demands: without a token, bearer routes answer 401 and public ones do not', async () => {
    for (const { path, method, operation } of operationsOf(doc)) {
      const documented = (operation.security as Schema[]).some((requirement) => 'bearer' in requirement) ? 'bearer' : 'public';
      const url = path.replace('{name}', 'LINT1').replace('{username}', 'lint-nobody');
      const res = await t.api.request(method.toUpperCase(), url, method === 'get' || method === 'delete' ? {} : { body: {} });
      const demanded = res.status === 401 && res.body?.code === 'UNAUTHORIZED' ? 'bearer' : 'public';
      expect({ method, path, documented }).toEqual({ method, path, documented: demanded });
    }
  });

  it('documents DATABASE_UNAVAILABLE on exactly the routes that answer it when PostgreSQL is unreachable', async () => {
    const admin = await t.adminToken();
    const user = await t.api.newUser('lint-user');
    expect((await t.api.post('/api/coupons', { name: 'LINT1', amount: 5 }, { token: admin })).status).toBe(201);
    const operations = operationsOf(doc);
    proxy.set('refuse');
    const answered: string[] = [];
    const documented: string[] = [];
    for (const { method, path, operation } of operations) {
      const id = operation.operationId as string;
      const examples = operation.responses['503']?.content?.['application/json']?.examples ?? {};
      if ('DATABASE_UNAVAILABLE' in examples) documented.push(id);
      if (operation.tags?.includes(OPERATIONS_TAG)) continue;
      const request = VALID_REQUEST[id];
      expect({ id, known: request !== undefined }).toEqual({ id, known: true });
      let url = path;
      for (const [name, value] of Object.entries(request.path ?? {})) url = url.replace(`{${name}}`, value);
      const res = await t.api.request(method.toUpperCase(), url, { token: request.admin ? admin : user, body: request.body });
      if (res.status === 503 && res.body?.code === 'DATABASE_UNAVAILABLE') answered.push(id);
    }
    proxy.set('forward');
    expect(documented.sort()).toEqual(answered.sort());
    expect(answered.length).toBe(Object.keys(VALID_REQUEST).length);
  });
});
