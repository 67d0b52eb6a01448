import { Controller, Get, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { HealthService } from './health.service';

@Controller('healthcheck')
export class HealthController {
  constructor(private readonly health: HealthService) {}

  /** 200 when PostgreSQL and a Redis quorum answer; 503 naming what does not. */
  @Get()
  async readiness(@Res({ passthrough: true }) reply: FastifyReply) {
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
}
