import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Params } from 'nestjs-pino';
import type { DestinationStream, Level, LevelWithSilent } from 'pino';
import type { AppConfig } from '../config/app-config';

/** Nest and the config speak `verbose`; pino calls the same level `trace`. */
const PINO_LEVEL: Record<string, LevelWithSilent> = {
  fatal: 'fatal',
  error: 'error',
  warn: 'warn',
  info: 'info',
  debug: 'debug',
  verbose: 'trace',
  silent: 'silent',
};

/** A caller's id is kept only if it is short and plain, so it cannot forge or flood log lines. */
const CALLER_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The route pattern (`/api/coupons/:name`), set by a Fastify hook; unmatched requests have none. */
export const ROUTE_PATTERN = Symbol('routePattern');

type LoggedRequest = IncomingMessage & { id?: string | number; [ROUTE_PATTERN]?: string };

/** Fastify's genReqId: the caller's X-Request-Id when it is plain, else a fresh UUID. */
export function requestIdOf(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && CALLER_REQUEST_ID.test(given) ? given : randomUUID();
}

function requestLine(req: LoggedRequest, res: ServerResponse, responseTime: number) {
  return {
    method: req.method,
    route: req[ROUTE_PATTERN] ?? 'unmatched',
    // The path without its query string: queries may carry cursors, never worth a log line.
    path: (req.url ?? '').split('?')[0],
    status: res.statusCode,
    duration_ms: responseTime,
  };
}

/**
 * pino through nestjs-pino: JSON lines, one per request (id, method, route, status, duration),
 * plus whatever the handler assigned (a claim adds coupon, outcome and lock wait).
 * Nothing from headers or bodies is logged, so tokens and passwords cannot leak.
 */
export function loggerParams(config: AppConfig, destination?: DestinationStream): Params {
  const pretty = config.NODE_ENV === 'development' && !destination && prettyTransportAvailable();
  const options = {
    level: PINO_LEVEL[config.LOG_LEVEL],
    // Fastify assigns the id (see app.factory.ts) and the middleware reuses it as req.id.
    genReqId: requestIdOf,
    quietReqLogger: true,
    quietResLogger: true,
    customAttributeKeys: { reqId: 'request_id' },
    // Belt and braces: no serializer below emits these, but a future log call might.
    redact: { paths: ['password', '*.password', 'password_hash', '*.passwordHash', 'access_token', '*.authorization'], censor: '[redacted]' },
    customLogLevel: (_req: IncomingMessage, res: ServerResponse, error?: Error): Level =>
      error || res.statusCode >= 500 ? 'error' : 'info',
    customSuccessMessage: () => 'request completed',
    customErrorMessage: () => 'request failed',
    customSuccessObject: (req: IncomingMessage, res: ServerResponse, value: { responseTime: number }) =>
      requestLine(req as LoggedRequest, res, value.responseTime),
    customErrorObject: (req: IncomingMessage, res: ServerResponse, _error: Error, value: { responseTime: number }) =>
      requestLine(req as LoggedRequest, res, value.responseTime),
    transport: pretty ? { target: 'pino-pretty', options: { singleLine: true, translateTime: 'SYS:HH:MM:ss.l' } } : undefined,
  };
  return {
    pinoHttp: destination ? [options, destination] : options,
    assignResponse: true,
    renameContext: 'context',
  };
}

/** pino-pretty is a dev dependency: a production install logs JSON even if NODE_ENV says development. */
function prettyTransportAvailable(): boolean {
  try {
    require.resolve('pino-pretty');
    return true;
  } catch {
    return false;
  }
}
