import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** What every observer of answered requests reads, read once per request. */
export interface AnsweredRequest {
  request: FastifyRequest;
  reply: FastifyReply;
  /** The route pattern ('/api/coupons/:name'), or 'unmatched' when no route matched: one series or field value per route, never the raw URL. */
  route: string;
  status: number;
  /** From the request's arrival to the last byte of its answer. */
  durationMs: number;
}

export type AnsweredRequestObserver = (answered: AnsweredRequest) => void;

const observersOf = new WeakMap<FastifyInstance, AnsweredRequestObserver[]>();

/**
 * Calls `observer` once for every request the app answers (404s, refusals and errors included),
 * after its answer is sent. The request line (logging) and the request histogram (metrics) are
 * both observers: one onResponse hook serves them all, so a request pays once for Fastify's
 * hook runner and for `request.routeOptions`, a getter that builds a twelve-field object each
 * time it is read (performance.md, "A lighter request path").
 */
export function observeAnsweredRequests(fastify: FastifyInstance, observer: AnsweredRequestObserver): void {
  const known = observersOf.get(fastify);
  if (known) {
    known.push(observer);
    return;
  }
  const observers = [observer];
  observersOf.set(fastify, observers);
  fastify.addHook('onResponse', (request, reply, done) => {
    const answered: AnsweredRequest = {
      request,
      reply,
      route: request.routeOptions.url ?? 'unmatched',
      status: reply.statusCode,
      durationMs: reply.elapsedTime,
    };
    for (let i = 0; i < observers.length; i++) observers[i](answered);
    done();
  });
}
