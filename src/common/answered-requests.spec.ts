import Fastify, { FastifyInstance } from 'fastify';
import { AnsweredRequest, observeAnsweredRequests } from './answered-requests';

describe('observeAnsweredRequests', () => {
  let fastify: FastifyInstance;
  const seen: Record<'first' | 'second', Omit<AnsweredRequest, 'request' | 'reply'>[]> = { first: [], second: [] };

  beforeAll(async () => {
    fastify = Fastify();
    fastify.get('/coupons/:name', async (_request, reply) => reply.code(201).send({ ok: true }));
    observeAnsweredRequests(fastify, ({ route, status, durationMs }) => void seen.first.push({ route, status, durationMs }));
    observeAnsweredRequests(fastify, ({ route, status, durationMs }) => void seen.second.push({ route, status, durationMs }));
    await fastify.ready();
  });
  afterAll(() => fastify.close());

  it('gives every observer each answered request once: its route pattern, status and duration', async () => {
    await fastify.inject({ method: 'GET', url: '/coupons/FLASH50?x=1' });
    await fastify.inject({ method: 'GET', url: '/nowhere' });
    for (const observed of [seen.first, seen.second]) {
      expect(observed.map(({ route, status }) => ({ route, status }))).toEqual([
        { route: '/coupons/:name', status: 201 },
        { route: 'unmatched', status: 404 },
      ]);
      for (const { durationMs } of observed) expect(durationMs).toBeGreaterThanOrEqual(0);
    }
  });

  it('serves all observers from one onResponse hook', () => {
    const listing = fastify.printRoutes({ includeHooks: true, commonPrefix: false });
    const onResponse = listing.split('\n').filter((line) => line.includes('(onResponse)'));
    expect(onResponse.length).toBeGreaterThan(0);
    for (const line of onResponse) expect(JSON.parse(/\((?:onResponse)\) (\[.*\])/.exec(line)![1])).toHaveLength(1);
  });
});
