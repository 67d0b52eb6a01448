import { Type } from '@nestjs/common';
import { ApiProperty } from '@nestjs/swagger';
import { IsOptional, Matches } from 'class-validator';
import { DomainError } from './domain-error';
import { CURSOR_PATTERN } from './identifiers';

/**
 * `?limit=&after=` for cursor-paginated lists. Query values are strings: `limit` must be
 * plain digits from 1 to 100 (no "1e2", " 5", "05"); `after` is a cursor from a previous page.
 */
export class PageQueryDto {
  @IsOptional()
  @Matches(/^(100|[1-9][0-9]?)$/, { message: 'limit must be an integer from 1 to 100' })
  limit?: string;

  @IsOptional()
  @Matches(CURSOR_PATTERN, { message: 'after must be a cursor returned as next_cursor' })
  after?: string;
}

export interface Page<T> {
  items: T[];
  /** Pass as `after` for the next page; null on the last page. */
  next_cursor: string | null;
}

export const DEFAULT_PAGE_SIZE = 20;

/** Cursors are opaque to clients: the base64url of a row id (keyset pagination, newest first). */
export function encodeCursor(id: string): string {
  return Buffer.from(id, 'utf8').toString('base64url');
}

/** The row id behind a cursor; anything we did not issue is 400 VALIDATION_FAILED. */
export function decodeCursor(cursor: string): string {
  const id = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!/^[1-9][0-9]{0,17}$/.test(id) || encodeCursor(id) !== cursor) {
    throw new DomainError('VALIDATION_FAILED', 'after: not a cursor this service issued', undefined, [
      { field: 'after', problems: ['after must be a cursor returned as next_cursor'] },
    ]);
  }
  return id;
}

/** The page request as SQL parameters: the id to start below (or null) and the rows to fetch. */
export function pageParams(query: PageQueryDto): { afterId: string | null; limit: number } {
  return {
    afterId: query.after === undefined ? null : decodeCursor(query.after),
    limit: query.limit === undefined ? DEFAULT_PAGE_SIZE : Number(query.limit),
  };
}

/** Builds a page from up to limit + 1 rows (the extra row only says another page exists). */
export function toPage<Row extends { id: string }, T>(rows: Row[], limit: number, view: (row: Row) => T): Page<T> {
  const items = rows.slice(0, limit);
  const more = rows.length > limit;
  return { items: items.map(view), next_cursor: more ? encodeCursor(String(items[items.length - 1].id)) : null };
}

/** The OpenAPI schema of a page of `item`s; extend it to name the schema (`class XPage extends PageResponse(X) {}`). */
export function PageResponse<T>(item: Type<T>, cursorExample: string): Type<Page<T>> {
  class PageOfItems implements Page<T> {
    @ApiProperty({ type: [item] })
    items: T[];

    @ApiProperty({
      type: String,
      nullable: true,
      description: 'Pass as `after` for the next page; null on the last page',
      example: cursorExample,
    })
    next_cursor: string | null;
  }
  return PageOfItems;
}
