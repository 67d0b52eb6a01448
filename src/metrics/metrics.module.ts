import { Injectable, Module, OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance } from 'fastify';
import { observeAnsweredRequests } from '../common/answered-requests';
import { RedisModule } from '../redis/redis.module';
import { DependencyGauges } from './dependency-gauges';
import { MetricsController } from './metrics.controller';
import { MetricsService } from './metrics.service';

/** Times every HTTP request by its route pattern (never the raw URL: one series per route). */
@Injectable()
export class HttpMetricsHook implements OnModuleInit {
  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly metrics: MetricsService,
  ) {}

  onModuleInit(): void {
    const fastify = this.adapterHost.httpAdapter.getInstance<FastifyInstance>();
    observeAnsweredRequests(fastify, ({ request, route, status, durationMs }) =>
      this.metrics.observeHttp(request.method, route, status, durationMs / 1000),
    );
  }
}

@Module({
  imports: [RedisModule],
  controllers: [MetricsController],
  providers: [MetricsService, HttpMetricsHook, DependencyGauges],
  exports: [MetricsService],
})
export class MetricsModule {}
