import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Params } from 'nestjs-pino';
import type { DestinationStream, LevelWithSilent } from 'pino';
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

/** Fastify's genReqId: the caller's X-Request-Id when it is plain, else a fresh UUID. */
export function requestIdOf(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && CALLER_REQUEST_ID.test(given) ? given : randomUUID();
}

/**
 * pino through nestjs-pino: JSON lines (pretty in development), a request-scoped logger per
 * request whose fields (`PinoLogger.assign`) end up on the request's line.
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
    // The request line is written by a Fastify hook (logging.module.ts), which sees every
    // request once; the middleware only gives handlers their request-scoped logger.
    autoLogging: false,
    // Belt and braces: nothing here logs headers or bodies, but a future log call might pass one.
    redact: {
      paths: ['password', '*.password', 'password_hash', '*.passwordHash', 'access_token', '*.authorization'],
      censor: '[redacted]',
    },
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
