import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { isDatabaseUnavailable } from './database-errors';
import { DomainError, ERROR_STATUS, ErrorCode, databaseUnavailable } from './domain-error';

export interface ErrorBody {
  statusCode: number;
  code: ErrorCode;
  message: string;
  details?: unknown;
}

/** Status codes Nest or Fastify raise on their own, and the code a client sees for each. */
const CODE_FOR_STATUS: Record<number, ErrorCode> = {
  400: 'VALIDATION_FAILED',
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  405: 'NOT_FOUND',
  406: 'VALIDATION_FAILED',
  411: 'VALIDATION_FAILED',
  413: 'PAYLOAD_TOO_LARGE',
  // The contract answers a wrong content type with 400 like any other malformed body.
  415: 'VALIDATION_FAILED',
  429: 'TOO_MANY_REQUESTS',
};

/** Turns anything thrown into the contract's `{statusCode, code, message}`; 5xx never leak internals. */
export function toErrorBody(error: unknown, logger: Logger): { body: ErrorBody; retryAfter?: number } {
  if (error instanceof DomainError) {
    const body: ErrorBody = { statusCode: error.status, code: error.code, message: error.message };
    if (error.details !== undefined) body.details = error.details;
    return { body, retryAfter: error.retryAfterSeconds };
  }
  if (isDatabaseUnavailable(error)) {
    logger.warn(`database unavailable: ${(error as Error).message}`);
    return toErrorBody(databaseUnavailable(), logger);
  }
  const status = statusOf(error);
  if (status !== undefined && status >= 400 && status < 500) {
    const code = CODE_FOR_STATUS[status] ?? 'VALIDATION_FAILED';
    const mappedStatus = ERROR_STATUS[code];
    return { body: { statusCode: mappedStatus, code, message: clientMessage(error, code) } };
  }
  logger.error(`unhandled error: ${(error as Error)?.stack ?? String(error)}`);
  return { body: { statusCode: 500, code: 'INTERNAL_ERROR', message: 'Internal server error' } };
}

function statusOf(error: unknown): number | undefined {
  if (error instanceof HttpException) return error.getStatus();
  const candidate = error as { statusCode?: unknown };
  return typeof candidate?.statusCode === 'number' ? candidate.statusCode : undefined;
}

function clientMessage(error: unknown, code: ErrorCode): string {
  switch (code) {
    case 'NOT_FOUND':
      return 'Route not found';
    case 'PAYLOAD_TOO_LARGE':
      return 'Request body is too large';
    case 'UNAUTHORIZED':
      return 'Authentication required';
    case 'FORBIDDEN':
      return 'Forbidden';
    case 'TOO_MANY_REQUESTS':
      return 'Too many requests';
    default: {
      // Fastify's body-parser messages are safe and useful ("Unexpected token } in JSON ...").
      const message = (error as Error)?.message;
      return typeof message === 'string' && message.length < 300 ? message : 'Invalid request';
    }
  }
}

export function sendError(reply: FastifyReply, error: unknown, logger: Logger): void {
  const { body, retryAfter } = toErrorBody(error, logger);
  if (retryAfter !== undefined) void reply.header('Retry-After', String(retryAfter));
  void reply.status(body.statusCode).header('Content-Type', 'application/json; charset=utf-8').send(body);
}

@Catch()
export class DomainErrorFilter implements ExceptionFilter {
  private readonly logger = new Logger(DomainErrorFilter.name);

  catch(error: unknown, host: ArgumentsHost): void {
    sendError(host.switchToHttp().getResponse<FastifyReply>(), error, this.logger);
  }
}
