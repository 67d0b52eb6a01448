import { RequestMethod } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import { ERROR_STATUS } from '../src/common/domain-error';
import { ApiResponse } from './support/http-client';
import { TestApp, startTestApp } from './support/test-app';
import { PROBE_ROUTES } from '../src/health/health.controller';

type Schema = Record<string, any>;

/** Every route the app serves, read from Nest's controller metadata, as OpenAPI paths. */
function servedRoutes(t: TestApp): { method: string; path: string }[] {
  const routes: { method: string; path: string }[] = [];
  const container = (t.app as any).container;
  for (const moduleRef of container.getModules().values()) {
    for (const wrapper of moduleRef.controllers.values()) {
      const controller = wrapper.metatype;
      const base: string = Reflect.getMetadata(PATH_METADATA, controller);
      for (const name of Object.getOwnPropertyNames(controller.prototype)) {
        const handler = controller.prototype[name];
        const method = Reflect.getMetadata(METHOD_METADATA, handler);
        const sub: string | undefined = Reflect.getMetadata(PATH_METADATA, handler);
        if (method === undefined || sub === undefined) continue;
        // The global prefix excludes /metrics and the probe routes, which spell out their path (app.factory.ts).
        const excluded = base === 'metrics' || (Object.values(PROBE_ROUTES) as string[]).includes(sub);
        const prefix = excluded ? '' : 'api';
        const path =
          '/' +
          [prefix, base, sub]
            .filter((p) => p && p !== '/')
            .join('/')
            .replace(/\/+/g, '/');
        routes.push({ method: RequestMethod[method].toLowerCase(), path: path.replace(/:(\w+)/g, '{$1}') });
      }
    }
  }
  return routes;
}

/** Inlines `$ref`s and forbids undocumented properties, so a response must match the document exactly. */
function strictSchema(schema: Schema, doc: Schema): Schema {
  if (Array.isArray(schema)) return schema.map((s) => strictSchema(s, doc));
  if (!schema || typeof schema !== 'object') return schema;
  if (schema.$ref) return strictSchema(doc.components.schemas[schema.$ref.split('/').pop()], doc);
  const out: Schema = {};
  for (const [key, value] of Object.entries(schema)) out[key] = key === 'example' ? value : strictSchema(value as Schema, doc);
  if (out.type === 'object' && out.properties) out.additionalProperties = false;
  return out;
}

describe('OpenAPI document', () => {
  let t: TestApp;
  let doc: Schema;
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);

  /** Checks a real response against what the document promises for its route and status. */
  function expectDocumented(method: string, path: string, res: ApiResponse) {
    const documented = doc.paths[path]?.[method]?.responses?.[String(res.status)];
    expect({ method, path, status: res.status, documented: Boolean(documented) }).toEqual({
      method,
      path,
      status: res.status,
      documented: true,
    });
    const content = documented.content['application/json'];
    const validate = ajv.compile(strictSchema(content.schema, doc));
    const valid = validate(res.body);
    expect({ path, status: res.status, body: res.body, errors: validate.errors ?? null }).toEqual({
      path,
      status: res.status,
      body: res.body,
      errors: null,
    });
    expect(valid).toBe(true);
    if (res.status >= 400) expect(Object.keys(content.examples ?? {})).toContain(res.body.code);
  }

  beforeAll(async () => {
    t = await startTestApp();
    const res = await t.api.get('/api/docs-json');
    expect(res.status).toBe(200);
    doc = res.body;
  });
  afterAll(() => t.close());

  it('serves the Swagger UI at /api/docs', async () => {
    const ui = await fetch(`${t.url}/api/docs`, { redirect: 'follow' });
    expect(ui.status).toBe(200);
    expect(await ui.text()).toContain('swagger-ui');
  });

  it('lists every route the app serves, and nothing it does not', async () => {
    const served = servedRoutes(t);
    expect(served.length).toBeGreaterThanOrEqual(8);
    const fastify = t.app.getHttpAdapter().getInstance();
    for (const route of served) {
      const url = route.path.replace(/\{(\w+)\}/g, ':$1');
      expect({ ...route, served: fastify.hasRoute({ method: route.method.toUpperCase(), url }) }).toEqual({ ...route, served: true });
    }
    const documented = Object.entries(doc.paths).flatMap(([path, item]) => Object.keys(item as object).map((method) => ({ method, path })));
    const key = (r: { method: string; path: string }) => `${r.method} ${r.path}`;
    expect(documented.map(key).sort()).toEqual(served.map(key).sort());
  });

  it('documents a success response and, for every error code, the right status with an example', () => {
    for (const [path, item] of Object.entries<Schema>(doc.paths)) {
      for (const [method, operation] of Object.entries<Schema>(item)) {
        const statuses = Object.keys(operation.responses);
        expect({ route: `${method} ${path}`, success: statuses.some((s) => s.startsWith('2')) }).toEqual({
          route: `${method} ${path}`,
          success: true,
        });
        const secured = (operation.security ?? []).length > 0;
        if (secured)
          expect({ route: `${method} ${path}`, has401: statuses.includes('401') }).toEqual({ route: `${method} ${path}`, has401: true });
        for (const status of statuses.filter((s) => Number(s) >= 400 && !['/api/healthcheck', '/healthcheck'].includes(path))) {
          const examples = operation.responses[status].content['application/json'].examples;
          expect(Object.keys(examples).length).toBeGreaterThan(0);
          for (const [code, example] of Object.entries<Schema>(examples)) {
            expect(ERROR_STATUS[code as keyof typeof ERROR_STATUS]).toBe(Number(status));
            expect(example.value).toEqual({ statusCode: Number(status), code, message: expect.any(String) });
          }
        }
      }
    }
  });

  it('real responses, successes and errors, match the documented schemas', async () => {
    const admin = await t.adminToken();
    expectDocumented('post', '/api/users/register', await t.api.register('docs_alice'));
    expectDocumented('post', '/api/users/register', await t.api.register('docs_alice'));
    expectDocumented('post', '/api/users/register', await t.api.post('/api/users/register', { username: 'x' }));
    const login = await t.api.post('/api/users/login', { username: 'docs_alice', password: 'password123' });
    expectDocumented('post', '/api/users/login', login);
    expectDocumented(
      'post',
      '/api/users/login',
      await t.api.post('/api/users/login', { username: 'docs_alice', password: 'wrong-password' }),
    );
    const token = login.body.access_token;

    expectDocumented('post', '/api/coupons', await t.api.createCoupon(admin, 'DOCS1', 1));
    expectDocumented('post', '/api/coupons', await t.api.createCoupon(admin, 'DOCS1', 1));
    expectDocumented('post', '/api/coupons', await t.api.createCoupon(token, 'DOCS2', 1));
    expectDocumented('post', '/api/coupons', await t.api.createCoupon('not.a.token', 'DOCS2', 1));

    expectDocumented('post', '/api/coupons/claim', await t.api.claim(token, 'DOCS1'));
    expectDocumented('post', '/api/coupons/claim', await t.api.claim(token, 'DOCS1'));
    expectDocumented('post', '/api/coupons/claim', await t.api.claim(await t.api.newUser('docs_bob'), 'DOCS1'));
    expectDocumented('post', '/api/coupons/claim', await t.api.claim(token, 'NOPE'));
    expectDocumented('post', '/api/coupons/claim', await t.api.claim(token, 'DOCS1', { user_id: 'someone' }));
    expectDocumented('post', '/api/coupons/claim', await t.api.post('/api/coupons/claim', { coupon_name: 'DOCS1' }));

    expectDocumented('get', '/api/coupons/{name}', await t.api.get('/api/coupons/DOCS1', { token }));
    expectDocumented('get', '/api/coupons/{name}', await t.api.get('/api/coupons/NOPE', { token }));
    expectDocumented('get', '/api/coupons/{name}/claims', await t.api.get('/api/coupons/DOCS1/claims', { token }));
    expectDocumented('get', '/api/coupons/{name}/claims', await t.api.get('/api/coupons/DOCS1/claims?limit=0', { token }));
    expectDocumented('get', '/api/healthcheck', await t.api.get('/api/healthcheck'));
  });

  it('documents /metrics as Prometheus text', async () => {
    const res = await t.api.get('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(Object.keys(doc.paths['/metrics'].get.responses['200'].content)).toEqual(['text/plain']);
  });
});
