import { DynamicModule, Global, Inject, Injectable, Module, OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance } from 'fastify';
import type { DestinationStream, Logger as Pino } from 'pino';
import { AnsweredRequest, observeAnsweredRequests } from '../common/answered-requests';
import { AppConfig } from '../config/app-config';
import { traceIdOf } from '../tracing/http-tracing';
import { PinoAppLogger } from './app-logger';
import { RequestLineCore, RequestLineWriter } from './request-line-writer';
import { addedLogFields, createRootLogger, safeRequestFields } from './request-logging';

export const ROOT_LOGGER = Symbol('ROOT_LOGGER');

/**
 * Writes one line per request: id (echoed as X-Request-Id by common/security-headers.ts), method, route
 * pattern, path, status, duration, plus the fields the handler added (a claim adds coupon,
 * outcome and lock wait). Nothing from headers or bodies, so tokens and passwords cannot leak.
 * It observes every answered request once (common/answered-requests.ts), unknown URLs and
 * routes outside the /api prefix included.
 */
@Injectable()
export class RequestLogHook implements OnModuleInit {
  private readonly lines: RequestLineWriter;

  constructor(
    private readonly adapterHost: HttpAdapterHost,
    @Inject(ROOT_LOGGER) root: Pino,
  ) {
    this.lines = new RequestLineWriter(root);
  }

  onModuleInit(): void {
    const fastify = this.adapterHost.httpAdapter.getInstance<FastifyInstance>();
    observeAnsweredRequests(fastify, (answered) => this.writeLine(answered));
  }

  private writeLine({ request, route, status, durationMs }: AnsweredRequest): void {
    const fields = addedLogFields(request);
    // 503s are retryable answers (lock busy, Redis or database away) that metrics alert on; 500s are
    // bugs. Load shed on purpose (fields.shed) is info: its source warns once per interval instead.
    const level = status === 503 && !fields?.shed ? 'warn' : status >= 500 && status !== 503 ? 'error' : 'info';
    if (!this.lines.isLevelEnabled(level)) return;
    const url = request.url;
    const query = url.indexOf('?');
    const core: RequestLineCore = {
      request_id: request.id,
      trace_id: traceIdOf(request.raw),
      method: request.method,
      route,
      // Without the query string: queries may carry cursors, never worth a log line.
      path: query === -1 ? url : url.slice(0, query),
      status,
      duration_ms: Math.round(durationMs),
    };
    // The handler's fields may add to the line, never replace its core fields.
    this.lines.write(level, core, safeRequestFields(fields), level === 'info' ? 'request completed' : 'request failed');
  }
}

@Global()
@Module({})
export class LoggingModule {
  static forConfig(config: AppConfig, destination?: DestinationStream): DynamicModule {
    const root = createRootLogger(config, destination);
    return {
      module: LoggingModule,
      providers: [{ provide: ROOT_LOGGER, useValue: root }, { provide: PinoAppLogger, useValue: new PinoAppLogger(root) }, RequestLogHook],
      exports: [ROOT_LOGGER, PinoAppLogger],
    };
  }
}
