import { DynamicModule, Injectable, Module, OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance } from 'fastify';
import { LoggerModule } from 'nestjs-pino';
import type { DestinationStream } from 'pino';
import { AppConfig } from '../config/app-config';
import { ROUTE_PATTERN, loggerParams } from './request-logging';

/**
 * Echoes the request id (X-Request-Id) and marks each request with its route pattern so the
 * request line can name the route, not the URL.
 */
@Injectable()
export class RequestContextHook implements OnModuleInit {
  constructor(private readonly adapterHost: HttpAdapterHost) {}

  onModuleInit(): void {
    const fastify = this.adapterHost.httpAdapter.getInstance<FastifyInstance>();
    fastify.addHook('onRequest', (request, reply, done) => {
      void reply.header('X-Request-Id', request.id);
      (request.raw as { [ROUTE_PATTERN]?: string })[ROUTE_PATTERN] = request.routeOptions.url;
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
      providers: [RequestContextHook],
    };
  }
}
