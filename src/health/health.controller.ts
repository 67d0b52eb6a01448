import { Controller, Get, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { HealthResponse, HealthUnavailableResponse } from './dto/health.response';
import { HealthService } from './health.service';

@ApiTags('operations')
@Controller('healthcheck')
export class HealthController {
  constructor(private readonly health: HealthService) {}

  /** 200 when PostgreSQL and a Redis quorum answer; 503 naming what does not. */
  @Get()
  @ApiOperation({ summary: 'Readiness: PostgreSQL and a Redis quorum answer' })
  @ApiOkResponse({ type: HealthResponse })
  @ApiServiceUnavailableResponse({ type: HealthUnavailableResponse, description: 'Not ready; names what is down' })
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
