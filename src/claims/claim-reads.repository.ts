import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { SALE_WINDOW_COLUMNS, SaleWindowRow, toSaleWindow } from './sale-window-sql';
import { SoldOutMemorySource, StockState } from './sold-out-memory';

/** Reads of claims outside the settlement: the sold-out memory's checks and a user's claims. */
@Injectable()
export class ClaimReadsRepository implements SoldOutMemorySource {
  constructor(private readonly dataSource: DataSource) {}

  /** The stock version and the sale window now; null when the coupon does not exist. */
  async stockState(couponName: string): Promise<StockState | null> {
    const rows: (SaleWindowRow & { stock_version: number })[] = await this.dataSource.query(
      `SELECT c.stock_version, ${SALE_WINDOW_COLUMNS}
         FROM coupons c, (SELECT clock_timestamp() AS now) t
        WHERE c.name = $1`,
      [couponName],
    );
    return rows.length === 0 ? null : { stockVersion: rows[0].stock_version, window: toSaleWindow(rows[0]) };
  }

  /**
   * Up to `limit` + 1 holders of a coupon (one more shows there are more); read once it is sold
   * out, when the set cannot grow without a stock update. One bounded page of the
   * (coupon_id, id) index.
   */
  async holderIds(couponId: string, limit: number): Promise<string[]> {
    const rows: { user_id: string }[] = await this.dataSource.query('SELECT user_id FROM user_claims WHERE coupon_id = $1 LIMIT $2', [
      couponId,
      limit + 1,
    ]);
    return rows.map((row) => String(row.user_id));
  }

  /** Up to `count` of a user's claims below the claim id `beforeId` (or from the newest), newest first, with their coupons' names. */
  heldBy(userId: string, beforeId: string | null, count: number): Promise<{ id: string; coupon_name: string; claimed_at: Date }[]> {
    return this.dataSource.query(
      `SELECT uc.id, c.name AS coupon_name, uc.claimed_at
         FROM user_claims uc JOIN coupons c ON c.id = uc.coupon_id
        WHERE uc.user_id = $1 AND ($2::bigint IS NULL OR uc.id < $2::bigint)
        ORDER BY uc.id DESC LIMIT $3`,
      [userId, beforeId, count],
    );
  }
}
