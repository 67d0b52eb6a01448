import { SpanKind, context } from '@opentelemetry/api';
import Redis from 'ioredis';
import { Client } from 'pg';
import { activeTracer, endWithError, recordingSpanIn } from './tracing';

/** Query text kept on a span: enough to recognise the statement, never a whole bulk insert. */
const MAX_QUERY_TEXT = 1000;

type Callback = (error: unknown, ...rest: unknown[]) => unknown;

/**
 * CLIENT spans for PostgreSQL queries (pg's Client.query, which TypeORM's runners call) and Redis
 * commands (ioredis' sendCommand: the lock's votes, the rate limits), only inside a recorded (sampled)
 * request or batch: start-up, migrations and timers make none. Hand-made rather than the
 * instrumentation packages: two patched methods instead of module-load hooks, and the cost is
 * in the bench's tracing row. Neither protocol has headers: the trace context stays here.
 */
export function traceClientCalls(): void {
  const tracer = activeTracer();
  if (!tracer) return;

  // eslint-disable-next-line @typescript-eslint/unbound-method -- always called with .call(this)
  const query = Client.prototype.query as (...args: unknown[]) => unknown;
  (Client.prototype as unknown as { query: unknown }).query = function tracedQuery(this: Client, ...args: unknown[]) {
    const parent = context.active();
    const config = args[0] as string | { text?: unknown; submit?: unknown } | undefined;
    const text = typeof config === 'string' ? config : config?.text;
    if (!recordingSpanIn(parent) || typeof text !== 'string' || typeof (config as { submit?: unknown })?.submit === 'function') {
      return query.apply(this, args);
    }
    const operation = text.trimStart().split(/\s+/, 1)[0].toUpperCase();
    const span = tracer.startSpan(
      operation,
      {
        kind: SpanKind.CLIENT,
        attributes: {
          'db.system.name': 'postgresql',
          'db.operation.name': operation,
          'db.query.text': text.slice(0, MAX_QUERY_TEXT),
          'server.address': this.host,
          'server.port': this.port,
        },
      },
      parent,
    );
    const last = args[args.length - 1];
    if (typeof last === 'function') {
      args[args.length - 1] = function (this: unknown, error: unknown, ...rest: unknown[]) {
        if (error) endWithError(span, error);
        else span.end();
        return (last as Callback).call(this, error, ...rest);
      };
      return query.apply(this, args);
    }
    const result = query.apply(this, args) as Promise<unknown> | undefined;
    if (result && typeof result.then === 'function')
      result.then(
        () => span.end(),
        (error) => endWithError(span, error),
      );
    else span.end();
    return result;
  };

  // eslint-disable-next-line @typescript-eslint/unbound-method -- always called with .call(this)
  const sendCommand = Redis.prototype.sendCommand as (this: Redis, command: RedisCommand, ...rest: unknown[]) => unknown;
  (Redis.prototype as unknown as { sendCommand: unknown }).sendCommand = function tracedSendCommand(
    this: Redis,
    command: RedisCommand,
    ...rest: unknown[]
  ) {
    const parent = context.active();
    if (!recordingSpanIn(parent) || command?.promise === undefined) return sendCommand.call(this, command, ...rest);
    const name = String(command.name).toUpperCase();
    const span = tracer.startSpan(
      name,
      {
        kind: SpanKind.CLIENT,
        attributes: {
          'db.system.name': 'redis',
          'db.operation.name': name,
          'server.address': this.options.host,
          'server.port': this.options.port,
        },
      },
      parent,
    );
    command.promise.then(
      () => span.end(),
      (error: unknown) => endWithError(span, error),
    );
    return sendCommand.call(this, command, ...rest);
  };
}

interface RedisCommand {
  name: string;
  promise: Promise<unknown>;
}
