import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import pino, { DestinationStream, LevelWithSilent, Logger as Pino } from 'pino';
import type { AppConfig } from '../config/app-config';
import { traceLogFields, tracingActive } from '../tracing/tracing';
import { BatchedLogStream } from './batched-log-stream';
import { markPlainJson } from './request-line-writer';

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

/** Fields a handler adds to its request's log line (a claim adds coupon, outcome, lock wait). */
export type RequestLogFields = Record<string, unknown>;

const FIELDS = Symbol('requestLogFields');

/** The request's own fields object, created on first use; the request line includes them. */
export function requestLogFields(request: object): RequestLogFields {
  const carrier = request as { [FIELDS]?: RequestLogFields };
  return (carrier[FIELDS] ??= {});
}

/** The fields a handler added, if any (read by the request-line hook). */
export function addedLogFields(request: object): RequestLogFields | undefined {
  return (request as { [FIELDS]?: RequestLogFields })[FIELDS];
}

/**
 * The process's one pino logger: JSON lines (pretty in development). No per-request child
 * logger and no async context: a request's line is written once, by a Fastify hook, from what
 * the request carries (measured: pino-http's per-request child logger and the async-local
 * storage behind it cost ~15% of the CPU of a sold-out claim).
 */
export function createRootLogger(config: AppConfig, destination?: DestinationStream): Pino {
  const pretty = config.NODE_ENV === 'development' && !destination && prettyTransportAvailable();
  const options: pino.LoggerOptions = {
    level: PINO_LEVEL[config.LOG_LEVEL],
    // Belt and braces: nothing here logs headers or bodies, but a future log call might pass one.
    redact: { paths: SECRET_KEYS.flatMap((key) => [key, `*.${key}`]).concat('*.*.authorization'), censor: '[redacted]' },
    // Every line written inside a traced request or batch carries its trace and span ids.
    mixin: tracingActive() ? traceLogFields : undefined,
    transport: pretty ? { target: 'pino-pretty', options: { singleLine: true, translateTime: 'SYS:HH:MM:ss.l' } } : undefined,
  };
  if (pretty) return pino(options);
  const logger = pino(options, destination ?? batchedStdout());
  if (!options.mixin) markPlainJson(logger);
  return logger;
}

/**
 * stdout through BatchedLogStream: one synchronous write(2) per event-loop turn, as pino's own
 * default destination writes (sync), where an asynchronous one handed every batch to libuv's
 * thread pool: measured ~1.4 us a line more at 20 lines a turn, ~3.3 us at 5 (performance.md).
 * A reader that falls behind (a full pipe) slows the process down rather than letting lines pile
 * up in memory without bound. The pending lines reach stdout before the process exits.
 */
function batchedStdout(): BatchedLogStream {
  let stream: BatchedLogStream | null = null;
  // Registered before pino.destination registers its own exit flush, so this one runs first.
  process.once('exit', () => stream?.flushSync());
  stream = new BatchedLogStream(pino.destination({ dest: 1, sync: true }));
  return stream;
}

/** Field names that never reach a log line with their value. */
const SECRET_KEYS = ['password', 'password_hash', 'passwordHash', 'access_token', 'token', 'authorization'];
const SECRET_KEY_SET = new Set(SECRET_KEYS);

/** A handler's fields for the request line, with any secret-named field censored as the redaction would. */
export function safeRequestFields(fields: RequestLogFields | undefined): RequestLogFields | undefined {
  if (fields === undefined) return undefined;
  for (const key in fields) {
    if (SECRET_KEY_SET.has(key) || (typeof fields[key] === 'object' && fields[key] !== null)) {
      // Rare path: a nested value or a secret name; censor it rather than trust it.
      return Object.fromEntries(
        Object.entries(fields).map(([k, v]) => [
          k,
          SECRET_KEY_SET.has(k) ? '[redacted]' : typeof v === 'object' && v !== null ? '[object]' : v,
        ]),
      );
    }
  }
  return fields;
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
