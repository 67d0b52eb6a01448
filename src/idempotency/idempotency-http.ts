import { Type, applyDecorators } from '@nestjs/common';
import { ApiHeader, ApiResponse } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { IDEMPOTENT_REPLAYED_HEADER, Replay } from './idempotency-key';

/** A fresh answer with the route's status, or a replay with its stored status and `Idempotent-Replayed: true`. */
export function sendAnswer(reply: FastifyReply, status: number, answer: unknown): void {
  if (answer instanceof Replay) {
    void reply
      .status(answer.status)
      .header(IDEMPOTENT_REPLAYED_HEADER, 'true')
      .header('Content-Type', 'application/json; charset=utf-8')
      .send(answer.body);
    return;
  }
  void reply.status(status).send(answer);
}

/**
 * For OpenAPI: the Idempotency-Key request header, and the route's success response (`status`,
 * `type`) with the Idempotent-Replayed header a replay carries (on any status it replays).
 */
export function ApiIdempotentResponse(status: number, type: Type<unknown>): MethodDecorator {
  return applyDecorators(
    ApiHeader({
      name: 'Idempotency-Key',
      required: false,
      description:
        'Optional, 1 to 255 printable ASCII characters, chosen by the client per request; a key belongs to the token holder. ' +
        'A retry with the same key and body gets the first decided answer again (same status and body) with ' +
        '`Idempotent-Replayed: true`; while the first request is in flight, 409 IDEMPOTENCY_KEY_IN_USE; with another body, ' +
        '422 IDEMPOTENCY_KEY_REUSED. Answers that decided nothing (400, 401, 403, 404, 429, 5xx) are not kept. Keys are ' +
        'kept at least IDEMPOTENCY_KEY_TTL_SECONDS (default one day).',
      schema: { type: 'string', minLength: 1, maxLength: 255 },
    }),
    ApiResponse({
      status,
      type,
      headers: {
        [IDEMPOTENT_REPLAYED_HEADER]: {
          description: '`true` on an answer replayed from an Idempotency-Key (whatever its status); absent otherwise',
          schema: { type: 'string', enum: ['true'] },
        },
      },
    }),
  );
}
