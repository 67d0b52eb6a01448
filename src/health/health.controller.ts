import { Controller, Get, applyDecorators } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import { DomainError } from '../common/domain-error';
import { HealthResponse, HealthUnavailableResponse } from './dto/health.response';
import { HealthService } from './health.service';

/**
 * Probe routes, written in full because one of them (`/healthcheck`, for probes configured
 * without the API prefix) lives outside `/api`; app.factory.ts keeps the global prefix off all
 * of them.
 */
export const PROBE_ROUTES = {
  readiness: 'api/healthcheck',
  unprefixedReadiness: 'healthcheck',
  liveness: 'api/healthcheck/live',
} as const;

const ReadinessDocs = (operationId: string, summary: string) =>
  applyDecorators(
    ApiOperation({ operationId, summary }),
    ApiOkResponse({ type: HealthResponse }),
    ApiServiceUnavailableResponse({ type: HealthUnavailableResponse, description: 'Not ready; names what is down' }),
  );

@ApiTags('operations')
@Controller()
export class HealthController {
  constructor(private readonly health: HealthService) {}

  /** 200 when PostgreSQL and a Redis quorum answer; 503 naming what does not. */
  @Get(PROBE_ROUTES.readiness)
  @ReadinessDocs('getReadiness', 'Readiness: PostgreSQL and a Redis quorum answer')
  readiness(): Promise<HealthResponse> {
    return this.report();
  }

  @Get(PROBE_ROUTES.unprefixedReadiness)
  @ReadinessDocs('getReadinessUnprefixed', 'Readiness without the /api prefix (same answer as /api/healthcheck)')
  unprefixedReadiness(): Promise<HealthResponse> {
    return this.report();
  }

  /** Not ready is an error like any other: the one error filter writes it, with the checks as details. */
  private async report(): Promise<HealthResponse> {
    const { healthy, checks, down } = await this.health.check();
    if (!healthy) {
      throw new DomainError('SERVICE_UNAVAILABLE', `not ready: ${down.join(', ')} not answering`, undefined, { checks });
    }
    return { status: 'ok', checks };
  }

  /** Liveness: the process runs and serves HTTP. No dependency checks, so a database outage never restarts it. */
  @Get(PROBE_ROUTES.liveness)
  @ApiOperation({ operationId: 'getLiveness', summary: 'Liveness: the process runs (no dependency checks)' })
  @ApiOkResponse({ schema: { type: 'object', properties: { status: { type: 'string', example: 'ok' } }, required: ['status'] } })
  liveness() {
    return { status: 'ok' };
  }
}
