import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, Matches } from 'class-validator';
import { CURSOR_PATTERN } from '../../common/identifiers';

export const MAX_CLAIMS_PAGE = 1000;
export const DEFAULT_CLAIMS_PAGE = 100;

/** Query strings arrive as text: parsed strictly here, never coerced ("1e2", "01", "-1" are refused). */
export class ClaimsPageQuery {
  @ApiPropertyOptional({ description: `Claims per page, 1-${MAX_CLAIMS_PAGE}`, default: String(DEFAULT_CLAIMS_PAGE), example: '100' })
  @IsOptional()
  @Matches(/^([1-9][0-9]{0,2}|1000)$/, { message: `limit must be an integer from 1 to ${MAX_CLAIMS_PAGE}` })
  limit?: string;

  @ApiPropertyOptional({ description: '`next_cursor` of the previous page; omit for the first page', example: 'MTIz' })
  @IsOptional()
  @Matches(CURSOR_PATTERN, { message: 'after must be a cursor returned by this endpoint' })
  after?: string;
}
