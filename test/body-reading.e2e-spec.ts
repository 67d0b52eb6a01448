import { bodyReading } from '../src/common/body-reading';
import { TestApp, startTestApp } from './support/test-app';

/**
 * JSON bodies are read by common/body-reading.ts (Fastify's steps without a bind per request):
 * the path is taken, and it answers what Fastify answers (test/hostile-input.e2e-spec.ts covers
 * the hostile bodies in depth).
 */
describe('JSON body reading', () => {
  let t: TestApp;
  let admin: string;

  beforeAll(async () => {
    t = await startTestApp({ BODY_LIMIT_BYTES: 1024 });
    admin = await t.adminToken();
  });
  afterAll(() => t.close());

  const post = (rawBody: string) =>
    t.api.request('POST', '/api/coupons', { rawBody, headers: { 'content-type': 'application/json' }, token: admin });

  it('reads a JSON body through its own path, and the body reaches the handler', async () => {
    const before = bodyReading.read;
    const res = await post(JSON.stringify({ name: 'READ_BODY', amount: 3 }));
    expect(res.status).toBe(201);
    expect(bodyReading.read).toBeGreaterThan(before);
    expect((await t.sql(`SELECT amount FROM coupons WHERE name = 'READ_BODY'`))[0]).toEqual({ amount: 3 });
  });

  it.each([
    ['bad JSON', '{"name":"BAD_JSON","amount":', 400],
    ['an empty body', '', 400],
    ['a body over the limit', JSON.stringify({ name: 'BIG', amount: 1, pad: 'x'.repeat(2000) }), 413],
  ])('answers %s as Fastify does, with a code, and writes nothing', async (_name, rawBody, status) => {
    const res = await post(rawBody);
    expect(res.status).toBe(status);
    expect(typeof res.body?.code).toBe('string');
    expect((await t.sql(`SELECT count(*)::int AS n FROM coupons WHERE name IN ('BAD_JSON', 'BIG')`))[0]).toEqual({ n: 0 });
  });
});
