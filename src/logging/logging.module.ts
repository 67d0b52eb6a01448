import { DynamicModule, Injectable, Module, OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance } from 'fastify';
import { LoggerModule, PinoLogger } from 'nestjs-pino';
import type { DestinationStream, Logger as Pino } from 'pino';
import { AppConfig } from '../config/app-config';
import { loggerParams } from './request-logging';

/** pino-http leaves its request-scoped loggers on the response; `assign` adds fields to the last. */
type LoggedResponse = { allLogs?: Pino[] };

/**
 * Echoes the request id (X-Request-Id) and writes one line per request: id, method, route
 * pattern, path, status, duration, plus what the handler assigned (a claim adds coupon,
 * outcome and lock wait). Nothing from headers or bodies, so tokens and passwords cannot leak.
 * A Fastify hook rather than pino-http's own line: it sees every request exactly once,
 * unknown URLs and routes outside the /api prefix included.
 */
@Injectable()
export class RequestLogHook implements OnModuleInit {
  constructor(private readonly adapterHost: HttpAdapterHost) {}

  onModuleInit(): void {
    const fastify = this.adapterHost.httpAdapter.getInstance<FastifyInstance>();
    fastify.addHook('onRequest', (request, reply, done) => {
      void reply.header('X-Request-Id', request.id);
      done();
    });
    fastify.addHook('onResponse', (request, reply, done) => {
      const log = (reply.raw as LoggedResponse).allLogs?.at(-1) ?? PinoLogger.root.child({ request_id: request.id });
      const line = {
        method: request.method,
        route: request.routeOptions.url ?? 'unmatched',
        // Without the query string: queries may carry cursors, never worth a log line.
        path: request.url.split('?')[0],
        status: reply.statusCode,
        duration_ms: Math.round(reply.elapsedTime),
      };
      // 503s are retryable answers (lock busy, Redis or database away) that metrics alert on; 500s are bugs.
      if (reply.statusCode === 503) log.warn(line, 'request failed');
      else if (reply.statusCode >= 500) log.error(line, 'request failed');
      else log.info(line, 'request completed');
      done();
    });
  }
}

@Module({})
export class LoggingModule {
  static forConfig(config: AppConfig, destination?: DestinationStream): DynamicModule {
    return {
      module: LoggingModule,
      imports: [LoggerModule.forRoot(loggerParams(config, destination))],
      providers: [RequestLogHook],
    };
  }
}
