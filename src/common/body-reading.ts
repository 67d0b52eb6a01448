import { AsyncResource } from 'node:async_hooks';
import type { Readable } from 'node:stream';
import { errorCodes } from 'fastify';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/**
 * Fastify's body reading for string parsers (its JSON parser, the only one this service
 * accepts), without `AsyncResource.bind` per request. Fastify runs each body's parser callback
 * in the request's async context through `resource.bind(onDone)`; on Node 20 every bind also
 * builds two deprecation wrappers (DEP0172) around an accessor nobody reads: ~6% of the CPU of
 * a sold-out claim in `npm run profile:requests`, plus the garbage. This does the same steps as
 * Fastify 5's ContentTypeParser.run and rawBody (same limits, same errors, same async context,
 * through `runInAsyncScope`) and leaves every other parser to Fastify. It reaches into
 * Fastify's internals (its symbols), so test/body-reading.e2e-spec.ts checks that the path is
 * taken and that it answers as Fastify does.
 */
// Fastify's own symbols (lib/symbols.js), the same objects its code uses.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const symbols = require('fastify/lib/symbols') as Record<string, symbol>;
const { kContentTypeParser, kRequestPayloadStream, kReplyIsError, kRouteContext } = symbols;

type Done = (error: Error | null, body?: unknown) => void;
type Handler = (request: FastifyRequest, reply: FastifyReply) => void;

interface Parser {
  asString: boolean;
  asBuffer: boolean;
  bodyLimit: number;
  fn: (request: FastifyRequest, body: string, done: Done) => unknown;
}

interface ContentTypeParser {
  getParser(contentType: string): Parser | undefined;
  run(contentType: string, handler: Handler, request: FastifyRequest, reply: FastifyReply): void;
}

type Internal = Record<symbol, unknown>;

/** Bodies read here (the test uses it to see that the path is taken). */
export const bodyReading = { read: 0 };

export function readBodiesWithoutBind(fastify: FastifyInstance): void {
  const parsers = (fastify as unknown as Internal)[kContentTypeParser] as ContentTypeParser | undefined;
  // A Fastify whose internals moved: keep its own reading rather than guess.
  if (!parsers || typeof parsers.run !== 'function' || typeof parsers.getParser !== 'function') return;
  const fastifyRun = parsers.run;
  parsers.run = function run(this: ContentTypeParser, contentType, handler, request, reply) {
    const parser = this.getParser(contentType);
    if (parser === undefined || parser.asString !== true) {
      fastifyRun.call(this, contentType, handler, request, reply);
      return;
    }
    bodyReading.read++;
    const resource = new AsyncResource('content-type-parser:run');
    const onDone: Done = (error, body) => {
      resource.emitDestroy();
      if (error != null) {
        // As Fastify: close the connection, the client may send more data.
        void reply.header('connection', 'close');
        (reply as unknown as Internal)[kReplyIsError] = true;
        void reply.send(error);
        return;
      }
      request.body = body;
      handler(request, reply);
    };
    const done: Done = (error, body) => resource.runInAsyncScope(onDone, null, error, body);
    readString(request, reply, parser, done);
  };
}

/** Fastify 5's rawBody for a string parser. */
function readString(request: FastifyRequest, reply: FastifyReply, parser: Parser, done: Done): void {
  const options = ((reply as unknown as Internal)[kRouteContext] as { _parserOptions: { limit: number | null } })._parserOptions;
  const limit = options.limit === null ? parser.bodyLimit : options.limit;
  const contentLength = Number(request.headers['content-length']);
  if (contentLength > limit) {
    done(new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE(), undefined);
    return;
  }
  let receivedLength = 0;
  let body = '';
  const payload = (((request as unknown as Internal)[kRequestPayloadStream] as Readable | undefined) || request.raw) as Readable & {
    receivedEncodedLength?: number;
  };
  payload.setEncoding('utf8');
  const onData = (chunk: string) => {
    receivedLength += Buffer.byteLength(chunk);
    const { receivedEncodedLength = 0 } = payload;
    // The decoded length must not exceed the limit either (a "zip bomb" behind a preParsing hook).
    if (receivedLength > limit || receivedEncodedLength > limit) {
      payload.removeListener('data', onData);
      payload.removeListener('end', onEnd);
      payload.removeListener('error', onEnd);
      done(new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE(), undefined);
      return;
    }
    body += chunk;
  };
  const onEnd = (error?: Error & { statusCode?: number }) => {
    payload.removeListener('data', onData);
    payload.removeListener('end', onEnd);
    payload.removeListener('error', onEnd);
    if (error != null) {
      if (!(typeof error.statusCode === 'number' && error.statusCode >= 400)) error.statusCode = 400;
      done(error, undefined);
      return;
    }
    if (!Number.isNaN(contentLength) && (payload.receivedEncodedLength || receivedLength) !== contentLength) {
      done(new errorCodes.FST_ERR_CTP_INVALID_CONTENT_LENGTH(), undefined);
      return;
    }
    const result = parser.fn(request, body, done) as PromiseLike<unknown> | undefined;
    if (result && typeof result.then === 'function') result.then((parsed) => done(null, parsed), done);
  };
  payload.on('data', onData);
  payload.on('end', onEnd);
  payload.on('error', onEnd);
  payload.resume();
}
