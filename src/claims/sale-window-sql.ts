import type { SaleWindow } from './claim-decision';

/**
 * The sale window judged by the database's clock (one clock for every API process), read
 * once as `t.now` so both bounds see the same instant. Needs `coupons c` and `t(now)`.
 */
export const SALE_WINDOW_COLUMNS = `
  CASE WHEN c.starts_at > t.now THEN 'not_started' WHEN c.ends_at <= t.now THEN 'ended' ELSE 'open' END AS sale_window,
  GREATEST(1, ceil(extract(epoch FROM c.starts_at - t.now)))::int AS seconds_until_start`;

export interface SaleWindowRow {
  sale_window: SaleWindow['kind'];
  seconds_until_start: number | null;
}

export const toSaleWindow = (row: SaleWindowRow): SaleWindow =>
  row.sale_window === 'not_started' ? { kind: 'not_started', secondsUntilStart: row.seconds_until_start ?? 1 } : { kind: row.sale_window };
