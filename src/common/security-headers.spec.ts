import Fastify from 'fastify';
import type { FastifyReply } from 'fastify';
import { API_RESPONSE_HEADERS, REPLY_HEADERS, addSecurityHeaders, apiResponseHeaders, replyHeaderStore } from './security-headers';

describe("the security headers, written into Fastify's own header object", () => {
  it('finds that object in this Fastify: what is written there is what reply.getHeader reads and what is sent', async () => {
    expect(typeof REPLY_HEADERS).toBe('symbol');
    const fastify = Fastify();
    let seen: unknown;
    fastify.addHook('onRequest', (_request, reply, done) => {
      replyHeaderStore(reply)!['x-written'] = 'yes';
      seen = reply.getHeader('x-written');
      done();
    });
    fastify.get('/', () => ({ ok: true }));
    const res = await fastify.inject({ method: 'GET', url: '/' });
    expect(seen).toBe('yes');
    expect(res.headers['x-written']).toBe('yes');
    await fastify.close();
  });

  it('is not fooled by a reply without that object (the hook then uses reply.header)', () => {
    expect(replyHeaderStore({} as FastifyReply)).toBeUndefined();
  });

  it('sends every API header, the request id and the handler own headers, the last word to a handler that sets one again', async () => {
    const fastify = Fastify({ genReqId: () => 'req-1' });
    addSecurityHeaders(fastify);
    fastify.get('/', (_request, reply) => reply.header('x-frame-options', 'SAMEORIGIN').header('x-own', 'kept').send({ ok: true }));
    const res = await fastify.inject({ method: 'GET', url: '/' });
    const api = Object.fromEntries(apiResponseHeaders());
    for (const name of API_RESPONSE_HEADERS.filter((n) => n !== 'x-frame-options'))
      expect([name, res.headers[name]]).toEqual([name, api[name]]);
    expect(res.headers['x-frame-options']).toBe('SAMEORIGIN');
    expect(res.headers['x-own']).toBe('kept');
    expect(res.headers['x-request-id']).toBe('req-1');
    await fastify.close();
  });
});
