import type { Client } from 'pg';
import { withDatabase } from './database-checks';
import { SaleContext } from './fault-sale-types';
import { sleep } from './fault-probes';
import { CUT_LANDS_WITHIN_MS, FIRST_GRANT_AFTER_CUT_MS, STATEMENTS_SETTLE_MS } from './fault-timeouts';

export interface StuckSession {
  backendPid: number;
  /** Its client's port as PostgreSQL sees it (for a proxied link, the proxy's upstream port). */
  clientPort: number;
  attempts: number;
}

interface ServiceSession {
  pid: number;
  client_port: number;
  state: string;
  /** It holds the coupons table's row-share lock: inside a claim transaction, at or past its FOR UPDATE. */
  holds_row: boolean;
}

/** The PostgreSQL sessions whose client ports are `ports` (one process's connections). */
async function sessionsOf(db: Client, ports: Set<number>): Promise<ServiceSession[]> {
  const { rows } = await db.query(
    `SELECT a.pid, a.client_port, a.state,
            EXISTS (SELECT 1 FROM pg_locks l
                     WHERE l.pid = a.pid AND l.granted AND l.relation = 'coupons'::regclass AND l.mode = 'RowShareLock') AS holds_row
       FROM pg_stat_activity a
      WHERE a.datname = current_database() AND a.application_name = 'flash-sale-coupons'`,
  );
  return rows.filter((r: { client_port: number }) => ports.has(r.client_port));
}

/**
 * Cuts one process off (freezes it, or blackholes its link) again and again until the cut
 * lands while one of its sessions sits idle in a transaction holding the coupon row, and
 * returns that session; null if that did not happen within `withinMs`. Each cut is made as
 * soon as one of its sessions is seen inside a claim transaction; then it waits for the
 * process's running statements to finish, reads pg_stat_activity and pg_locks, and confirms
 * from its own session that the row is locked (FOR UPDATE NOWAIT refused). Otherwise it
 * restores the process and tries again a moment later.
 */
async function cutWhileHoldingRow(
  sale: SaleContext,
  clientPorts: () => Set<number>,
  cut: () => void,
  restore: () => void,
  withinMs = CUT_LANDS_WITHIN_MS,
): Promise<StuckSession | null> {
  return withDatabase(sale.group.databaseUrl, async (db) => {
    const deadline = Date.now() + withinMs;
    for (let attempts = 1; Date.now() < deadline; attempts++) {
      const ports = clientPorts();
      // A cut at a random moment took a median 32 tries (up to 111) to land in a transaction,
      // and a sale sometimes sold out first; a transaction lasts milliseconds, a look takes one.
      while (Date.now() < deadline && !(await sessionsOf(db, ports)).some((r) => r.holds_row)) await sleep(1);
      cut();
      let sessions: ServiceSession[] = [];
      for (let waited = 0; waited <= STATEMENTS_SETTLE_MS; waited += 10) {
        sessions = await sessionsOf(db, ports);
        if (!sessions.some((r) => r.state === 'active')) break;
        await sleep(10);
      }
      const holder = sessions.find((r) => r.state === 'idle in transaction' && r.holds_row);
      if (holder && (await rowIsLocked(db, sale.couponName))) return { backendPid: holder.pid, clientPort: holder.client_port, attempts };
      restore();
      await sleep(5 + Math.random() * 40);
    }
    return null;
  });
}

/** Whether someone holds the coupon's row lock, asked without waiting and without keeping it. */
async function rowIsLocked(db: Client, couponName: string): Promise<boolean> {
  await db.query('BEGIN');
  try {
    await db.query('SELECT id FROM coupons WHERE name = $1 FOR UPDATE NOWAIT', [couponName]);
    return false;
  } catch (error) {
    if ((error as { code?: string }).code === '55P03') return true;
    throw error;
  } finally {
    await db.query('ROLLBACK');
  }
}

/** What the rest of the system did while one process stayed cut off; milliseconds from the cut. */
export interface WhileStuck {
  firstGrantMs: number | null;
  soldOutMs: number | null;
  sessionEndedMs: number | null;
  rowsAtCut: number;
  remainingAtCut: number;
}

async function watchWhileStuck(sale: SaleContext, stuck: StuckSession, forMs: number): Promise<WhileStuck> {
  return withDatabase(sale.group.databaseUrl, async (db) => {
    const started = performance.now();
    const read = async () => {
      const { rows } = await db.query(
        `SELECT c.remaining_amount, (SELECT count(*)::int FROM user_claims uc WHERE uc.coupon_id = c.id) AS rows,
                EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $2) AS session_alive
           FROM coupons c WHERE c.name = $1`,
        [sale.couponName, stuck.backendPid],
      );
      return rows[0] as { remaining_amount: number; rows: number; session_alive: boolean };
    };
    const first = await read();
    const seen: WhileStuck = {
      firstGrantMs: null,
      soldOutMs: null,
      sessionEndedMs: null,
      rowsAtCut: first.rows,
      remainingAtCut: first.remaining_amount,
    };
    while (performance.now() - started < forMs) {
      const now = await read();
      const at = Math.round(performance.now() - started);
      if (seen.firstGrantMs === null && now.rows > first.rows) seen.firstGrantMs = at;
      if (seen.soldOutMs === null && now.remaining_amount === 0) seen.soldOutMs = at;
      if (seen.sessionEndedMs === null && !now.session_alive) seen.sessionEndedMs = at;
      await sleep(100);
    }
    return seen;
  });
}

/**
 * Scenarios 9 and 10: cut one process off while it holds the coupon row (see cutWhileHoldingRow),
 * keep it out of the clients' rotation for `forMs` as a load balancer whose health checks time
 * out would, watch the others, restore it, and check that the others went on. Null (with a
 * failed check) when the cut never landed on a held row.
 */
export async function holdCutOffWithRow(
  sale: SaleContext,
  how: {
    url: string;
    clientPorts: () => Set<number>;
    cut: () => void;
    restore: () => void;
    forMs: number;
    cutWord: string;
    who: string;
    /** Runs from the catch until the restore, beside the watch (probes of the stuck process). */
    during?: (caught: StuckSession) => Promise<void>;
  },
): Promise<{ caught: StuckSession; seen: WhileStuck } | null> {
  const caught = await cutWhileHoldingRow(sale, how.clientPorts, how.cut, how.restore);
  sale.check(
    `${how.cutWord} while a session of it sat idle in transaction holding the coupon row (pg_stat_activity, pg_locks, FOR UPDATE NOWAIT refused)`,
    caught !== null,
    caught ? `caught on attempt ${caught.attempts}` : `not caught within ${CUT_LANDS_WITHIN_MS / 1000} s`,
  );
  if (!caught) return null;
  sale.http.setInRotation(how.url, false);
  const [seen] = await Promise.all([watchWhileStuck(sale, caught, how.forMs), how.during?.(caught)]);
  how.restore();
  sale.http.setInRotation(how.url, true);
  checkOthersWentOn(sale, seen, how.who, how.forMs);
  return { caught, seen };
}

/** The liveness checks of a process cut off mid-transaction: the others go on, and soon. */
function checkOthersWentOn(sale: SaleContext, seen: WhileStuck, who: string, forMs: number): void {
  sale.check(
    `first grant through the other process within 10 s of ${who}`,
    seen.firstGrantMs !== null && seen.firstGrantMs < FIRST_GRANT_AFTER_CUT_MS,
    `first new row ${seen.firstGrantMs ?? 'never'} ms after the cut (rows then: ${seen.rowsAtCut}, remaining ${seen.remainingAtCut})`,
  );
  sale.check(
    `the rest of the stock sold while ${who} lasted (${forMs / 1000} s)`,
    seen.soldOutMs !== null,
    `sold out ${seen.soldOutMs ?? 'not'} ms after the cut`,
  );
}
