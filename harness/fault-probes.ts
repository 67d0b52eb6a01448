import Redis from 'ioredis';
import type { Client } from 'pg';
import { holdersOf } from './database-checks';
import { SaleContext } from './fault-sale-types';

/** Probes and small tools the fault scenarios share. */
export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * In `db`'s open transaction: locks the coupon row, then waits (up to `maxMs`) until a session
 * of the service waits for a lock behind it. Whether one did.
 */
export async function lockRowUntilQueuedBehind(db: Client, couponName: string, maxMs: number): Promise<boolean> {
  await db.query('SELECT id FROM coupons WHERE name = $1 FOR UPDATE', [couponName]);
  for (let waited = 0; waited < maxMs; waited += 20) {
    const { rows } = await db.query(
      `SELECT count(*)::int AS n FROM pg_stat_activity
        WHERE datname = current_database() AND application_name = 'flash-sale-coupons' AND wait_event_type = 'Lock'`,
    );
    if (rows[0].n > 0) return true;
    await sleep(20);
  }
  return false;
}

/** Claims as the probe user straight through one process, bypassing the rotation. */
export async function claimThrough(url: string, sale: SaleContext): Promise<{ status: number; code: string | null; elapsedMs: number }> {
  const started = Date.now();
  const answer = await fetch(`${url}/api/coupons/claim`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${sale.probe.token}` },
    body: JSON.stringify({ coupon_name: sale.couponName }),
  });
  const body = (await answer.json().catch(() => ({}))) as { code?: string };
  return { status: answer.status, code: body.code ?? null, elapsedMs: Date.now() - started };
}

/** Claims as the probe user, once; the answer, how long it took and whether a row appeared. */
export async function probeClaim(sale: SaleContext): Promise<{ status: number; code: string | null; elapsedMs: number; wrote: boolean }> {
  const started = Date.now();
  const answer = await sale.http.request('POST', '/api/coupons/claim', { coupon_name: sale.couponName }, sale.probe.token);
  const elapsedMs = Date.now() - started;
  const holders = await holdersOf(sale.group.databaseUrl, sale.couponName);
  return { status: answer.status, code: answer.body?.code ?? null, elapsedMs, wrote: holders.includes(sale.probe.username) };
}

/** The warning a process logs when a lease ran out under it. */
export const LOCK_LOST = /was lost \(lease expired\)/;

/** One PING through a Redis link, in milliseconds. */
export async function pingThrough(port: number): Promise<number> {
  const client = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const started = performance.now();
    await client.ping();
    return performance.now() - started;
  } finally {
    client.disconnect();
  }
}
