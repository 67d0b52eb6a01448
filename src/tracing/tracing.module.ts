import { Injectable, Module, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance } from 'fastify';
import type { AppConfig } from '../config/app-config';
import { traceClientCalls } from './client-spans';
import { nameServerSpan, traceHttpServer } from './http-tracing';
import { flushTracing, startTracing, tracingActive } from './tracing';

/**
 * Starts OpenTelemetry for this process when TRACING_OTLP_ENDPOINT is set (main.ts, before the
 * app is built, so the logger and the clients see it). Tests that build apps in-process never
 * call it: tracing stays off for them unless they start it.
 */
export function startProcessTracing(config: AppConfig): void {
  if (startTracing(config)) traceClientCalls();
}

/** Server spans on the app's HTTP server, named by route; the last spans sent at shutdown. */
@Injectable()
export class TracingHooks implements OnModuleInit, OnApplicationShutdown {
  constructor(private readonly adapterHost: HttpAdapterHost) {}

  onModuleInit(): void {
    if (!tracingActive()) return;
    const fastify = this.adapterHost.httpAdapter.getInstance<FastifyInstance>();
    traceHttpServer(fastify.server);
    fastify.addHook('onRequest', (request, _reply, done) => {
      nameServerSpan(request.raw, request.routeOptions.url);
      done();
    });
  }

  async onApplicationShutdown(): Promise<void> {
    await flushTracing();
  }
}

@Module({ providers: [TracingHooks] })
export class TracingModule {}
