import { Inject, Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { EntityManager, Repository } from 'typeorm';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { EventType, eventsWritten } from '../events/event-types';
import { Coupon } from './coupon.entity';

/** A coupon row as the admin views read it. */
export interface CouponRow {
  id: string;
  name: string;
  amount: number;
  remaining_amount: number;
  starts_at: Date | null;
  ends_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

/** What an update writes; a bound not named in the request is left as the row has it. */
export interface CouponUpdate {
  amount: number;
  startsAt?: Date | null;
  endsAt?: Date | null;
}

export interface HolderRow {
  /** The claim's id: the page cursor. */
  id: string;
  username: string;
  claimed_at: Date;
}

const COUPON_COLUMNS = 'id, name, amount, remaining_amount, starts_at, ends_at, created_at, updated_at';

/** What coupon.created, coupon.updated and coupon.closed carry, from a coupons row (documentation/asyncapi.yaml). */
const COUPON_EVENT_PAYLOAD = `jsonb_build_object('amount', amount, 'remaining_amount', remaining_amount, 'starts_at', starts_at, 'ends_at', ends_at)`;

/**
 * The coupons table, and the reads of its holders (user_claims joined to users). The claim
 * path's own SQL is in claims/claim-transaction.ts.
 */
@Injectable()
export class CouponsRepository {
  private readonly eventsWritten: boolean;

  constructor(
    @InjectRepository(Coupon) private readonly coupons: Repository<Coupon>,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.eventsWritten = eventsWritten(config);
  }

  /**
   * Throws the database's unique violation when the name exists. Writes coupon.created in the
   * same statement; `alsoWrite` runs in the same transaction after it (the creation's
   * Idempotency-Key commits with the coupon).
   */
  async insert(
    name: string,
    amount: number,
    startsAt: Date | null,
    endsAt: Date | null,
    alsoWrite?: (transaction: EntityManager, coupon: CouponRow) => Promise<void>,
  ): Promise<CouponRow> {
    const write = async (runner: EntityManager): Promise<CouponRow> => {
      const rows: CouponRow[] = await runner.query(
        `WITH created AS (
           INSERT INTO coupons (name, amount, remaining_amount, starts_at, ends_at) VALUES ($1, $2, $2, $3, $4)
           RETURNING ${COUPON_COLUMNS}),
         event AS (
           INSERT INTO outbox_events (event_type, coupon_id, coupon_name, payload)
           SELECT 'coupon.created', id, name, ${COUPON_EVENT_PAYLOAD} FROM created WHERE $5::boolean)
         SELECT * FROM created`,
        [name, amount, startsAt, endsAt, this.eventsWritten],
      );
      return rows[0];
    };
    if (!alsoWrite) return write(this.coupons.manager);
    return this.coupons.manager.transaction(async (transaction) => {
      const coupon = await write(transaction);
      await alsoWrite(transaction, coupon);
      return coupon;
    });
  }

  /** The coupon and its holders in claim order, read in one statement so both agree. */
  async findWithHolders(name: string): Promise<{ amount: number; remaining_amount: number; claimed_by: string[] } | undefined> {
    const rows = await this.coupons.query(
      `SELECT c.amount, c.remaining_amount,
              COALESCE(ARRAY(SELECT u.username FROM user_claims uc JOIN users u ON u.id = uc.user_id
                             WHERE uc.coupon_id = c.id ORDER BY uc.id), '{}') AS claimed_by
         FROM coupons c WHERE c.name = $1`,
      [name],
    );
    return rows[0];
  }

  /** Up to `count` coupons below the id `beforeId` (or from the newest), newest first. */
  listNewestFirst(beforeId: string | null, count: number): Promise<CouponRow[]> {
    return this.coupons.query(
      `SELECT ${COUPON_COLUMNS} FROM coupons
        WHERE $1::bigint IS NULL OR id < $1::bigint
        ORDER BY id DESC LIMIT $2`,
      [beforeId, count],
    );
  }

  /**
   * Up to `count` holders after the claim id `afterId`, in claim order; undefined when the
   * coupon does not exist. One statement: the coupon row tells "unknown coupon" from "no
   * claims past the cursor".
   */
  async holdersAfter(name: string, afterId: string, count: number): Promise<HolderRow[] | undefined> {
    const rows: { id: string | null; username: string; claimed_at: Date }[] = await this.coupons.query(
      `SELECT page.id, u.username, page.claimed_at
         FROM coupons c
         LEFT JOIN LATERAL (SELECT uc.id, uc.user_id, uc.claimed_at FROM user_claims uc
                             WHERE uc.coupon_id = c.id AND uc.id > $2
                             ORDER BY uc.id LIMIT $3) page ON true
         LEFT JOIN users u ON u.id = page.user_id
        WHERE c.name = $1
        ORDER BY page.id`,
      [name, afterId, count],
    );
    if (rows.length === 0) return undefined;
    return rows.filter((row): row is HolderRow => row.id !== null);
  }

  /**
   * In one transaction holding the row FOR UPDATE: `plan` judges the current row (it may
   * throw to refuse), then the change is written and stock_version bumped, so every process
   * drops a remembered "sold out". remaining_amount follows as amount - claimed. Undefined
   * when the coupon does not exist.
   */
  update(name: string, plan: (current: CouponRow) => CouponUpdate): Promise<CouponRow | undefined> {
    return this.changeLocked(name, async (em, current) => {
      const { amount, startsAt, endsAt } = plan(current);
      // Bounds not named are left alone in SQL: rewriting them from JS would round a closed
      // sale's microsecond bounds to milliseconds.
      const [rows]: [CouponRow[], number] = await em.query(
        `UPDATE coupons
            SET amount = $2, remaining_amount = $2 - (amount - remaining_amount),
                starts_at = CASE WHEN $5 THEN $3::timestamptz ELSE starts_at END,
                ends_at = CASE WHEN $6 THEN $4::timestamptz ELSE ends_at END,
                stock_version = stock_version + 1, updated_at = now()
          WHERE id = $1
          RETURNING ${COUPON_COLUMNS}`,
        [current.id, amount, startsAt ?? null, endsAt ?? null, startsAt !== undefined, endsAt !== undefined],
      );
      // An amount lowered to what is claimed takes the last unit too: sold out, once.
      const soldOut = current.remaining_amount > 0 && rows[0].remaining_amount === 0;
      await this.writeEvents(em, rows[0], soldOut ? ['coupon.updated', 'coupon.sold_out'] : ['coupon.updated']);
      return rows[0];
    });
  }

  /**
   * Ends the sale now, by the database clock that claims are judged by, in the same kind of
   * transaction as `update`. A sale that has not started gets an empty window (start = end =
   * now); one that already ended keeps its end.
   */
  close(name: string): Promise<CouponRow | undefined> {
    return this.changeLocked(name, async (em, current) => {
      const [rows]: [CouponRow[], number] = await em.query(
        `UPDATE coupons c
            SET ends_at = LEAST(COALESCE(c.ends_at, t.now), t.now),
                starts_at = LEAST(c.starts_at, t.now),
                stock_version = c.stock_version + 1, updated_at = now()
           FROM (SELECT clock_timestamp() AS now) t
          WHERE c.id = $1
          RETURNING ${COUPON_COLUMNS.split(', ')
            .map((column) => `c.${column}`)
            .join(', ')}`,
        [current.id],
      );
      await this.writeEvents(em, rows[0], ['coupon.closed']);
      return rows[0];
    });
  }

  /** Coupons with nothing left to claim. */
  async countSoldOut(): Promise<number> {
    const [row] = await this.coupons.query('SELECT count(*)::int AS n FROM coupons WHERE remaining_amount = 0');
    return Number(row.n);
  }

  /** Units left across the coupons whose sale window is open now (by the database clock). */
  async remainingInOpenSales(): Promise<number> {
    const [row] = await this.coupons.query(
      `SELECT coalesce(sum(remaining_amount), 0)::bigint AS n FROM coupons
        WHERE (starts_at IS NULL OR starts_at <= now()) AND (ends_at IS NULL OR ends_at > now())`,
    );
    return Number(row.n);
  }

  /** Writes events of `coupon` in order, in `em`'s transaction (which holds the coupon row), when events are on. */
  private async writeEvents(em: EntityManager, coupon: CouponRow, types: EventType[]): Promise<void> {
    if (!this.eventsWritten) return;
    await em.query(
      `INSERT INTO outbox_events (event_type, coupon_id, coupon_name, payload)
       SELECT t.event_type, c.id, c.name, CASE WHEN t.event_type = 'coupon.sold_out' THEN '{}'::jsonb ELSE ${COUPON_EVENT_PAYLOAD} END
         FROM coupons c, unnest($2::text[]) WITH ORDINALITY AS t(event_type, n)
        WHERE c.id = $1
        ORDER BY t.n`,
      [coupon.id, types],
    );
  }

  private changeLocked(name: string, write: (em: EntityManager, current: CouponRow) => Promise<CouponRow>): Promise<CouponRow | undefined> {
    return this.coupons.manager.transaction(async (em) => {
      const rows: CouponRow[] = await em.query(`SELECT ${COUPON_COLUMNS} FROM coupons WHERE name = $1 FOR UPDATE`, [name]);
      return rows.length === 0 ? undefined : write(em, rows[0]);
    });
  }
}
