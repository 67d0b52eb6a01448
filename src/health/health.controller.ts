import { Controller, Get, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { HealthResponse, HealthUnavailableResponse } from './dto/health.response';
import { HealthService } from './health.service';

/**
 * Probe routes, written in full because one of them (seed 001's `/healthcheck`) lives outside
 * the `/api` prefix; app.factory.ts keeps the global prefix off all of them.
 */
export const PROBE_ROUTES = {
  readiness: 'api/healthcheck',
  seedReadiness: 'healthcheck',
  liveness: 'api/healthcheck/live',
} as const;

@ApiTags('operations')
@Controller()
export class HealthController {
  constructor(private readonly health: HealthService) {}

  /** 200 when PostgreSQL and a Redis quorum answer; 503 naming what does not. */
  @Get(PROBE_ROUTES.readiness)
  @ApiOperation({ summary: 'Readiness: PostgreSQL and a Redis quorum answer' })
  @ApiOkResponse({ type: HealthResponse })
  @ApiServiceUnavailableResponse({ type: HealthUnavailableResponse, description: 'Not ready; names what is down' })
  readiness(@Res({ passthrough: true }) reply: FastifyReply) {
    return this.report(reply);
  }

  /** Seed 001's probe path: the same answer as the readiness route. */
  @Get(PROBE_ROUTES.seedReadiness)
  @ApiOperation({ summary: 'Readiness at the seed path (same answer as /api/healthcheck)' })
  @ApiOkResponse({ type: HealthResponse })
  @ApiServiceUnavailableResponse({ type: HealthUnavailableResponse, description: 'Not ready; names what is down' })
  seedReadiness(@Res({ passthrough: true }) reply: FastifyReply) {
    return this.report(reply);
  }

  private async report(reply: FastifyReply) {
    const report = await this.health.check();
    if (report.healthy) return { status: 'ok', checks: report.checks };
    void reply.status(503);
    return {
      statusCode: 503,
      code: 'SERVICE_UNAVAILABLE',
      message: `not ready: ${report.down.join(', ')} not answering`,
      status: 'unavailable',
      checks: report.checks,
    };
  }

  /** Liveness: the process runs and serves HTTP. No dependency checks, so a database outage never restarts it. */
  @Get(PROBE_ROUTES.liveness)
  @ApiOperation({ summary: 'Liveness: the process runs (no dependency checks)' })
  @ApiOkResponse({ schema: { type: 'object', properties: { status: { type: 'string', example: 'ok' } }, required: ['status'] } })
  liveness() {
    return { status: 'ok' };
  }
}
