import { ApiProperty } from '@nestjs/swagger';
import type { CheckState } from '../health.service';

export class HealthChecks {
  @ApiProperty({ enum: ['up', 'down'], example: 'up' })
  database: CheckState;

  @ApiProperty({ enum: ['up', 'down'], example: 'up', description: 'up while a Redlock quorum of nodes answers' })
  redis: CheckState;

  @ApiProperty({ type: 'array', items: { type: 'string', enum: ['up', 'down'] }, example: ['up', 'up', 'up'] })
  redis_nodes: CheckState[];
}

export class HealthResponse {
  @ApiProperty({ enum: ['ok'], example: 'ok' })
  status: 'ok';

  @ApiProperty({ type: HealthChecks })
  checks: HealthChecks;
}

export class HealthUnavailableDetails {
  @ApiProperty({ type: HealthChecks })
  checks: HealthChecks;
}

/** The common error shape; `details.checks` says which dependency is down. */
export class HealthUnavailableResponse {
  @ApiProperty({ example: 503 })
  statusCode: number;

  @ApiProperty({ enum: ['SERVICE_UNAVAILABLE'], example: 'SERVICE_UNAVAILABLE' })
  code: 'SERVICE_UNAVAILABLE';

  @ApiProperty({ example: 'not ready: redis not answering' })
  message: string;

  @ApiProperty({ type: HealthUnavailableDetails })
  details: HealthUnavailableDetails;
}
