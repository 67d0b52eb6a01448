import type { ClaimRecord, SaleRun } from './claim-runner';
import { holdersOf, withDatabase } from './database-checks';
import { EventQueue, LOCAL_BROKER, eventChecks, orderCheck } from './event-queue';
import { FaultScenario, ScenarioResult, runFaultSale } from './fault-sale';
import { TcpProxy } from './tcp-proxy';
import { login } from './user-seeder';

type FaultSpec = Parameters<typeof runFaultSale>[0];
type Sale = Parameters<NonNullable<FaultSpec['fault']>>[0];

/** What an event scenario's fault and checks get: the sale, the broker link through a proxy, the test's queue. */
export interface EventSaleContext {
  sale: Sale;
  brokerLink: TcpProxy;
  tail: EventQueue;
}

export interface EventSale {
  id: number;
  title: string;
  processes: number;
  users: number;
  stock: number;
  concurrency?: number;
  faultAt?: number;
  env?: Record<string, string>;
  requestTimeoutMs?: number;
  rowWithout200Allowed?: (record: ClaimRecord | undefined) => boolean;
  /** A quiet run: no event may arrive twice. After a fault duplicates by id are allowed. */
  exactlyOnce: boolean;
  /** The longest the events may take to arrive after the sale and the close. */
  deliveryWithinMs: number;
  fault?: (context: EventSaleContext) => Promise<void>;
  /** Runs before the coupon is closed (the broker-refusal scenario arms its refusing queue here). */
  beforeClose?: (context: EventSaleContext) => Promise<void>;
  /** Further checks once every event arrived. */
  after?: (context: EventSaleContext, run: SaleRun, holders: string[]) => Promise<void>;
}

/**
 * A sale (runFaultSale: separate API processes, one Redis node) with events on: every process
 * relays to the shared RabbitMQ through one TcpProxy a fault can break, to the test's own
 * exchange, which a queue bound with `#` reads. After the sale an admin closes the coupon and
 * the events are judged against the database (eventChecks). The exchange and queue are deleted
 * at the end; the shared broker itself is never touched.
 */
export function eventScenario(spec: EventSale): FaultScenario {
  return {
    id: spec.id,
    title: spec.title,
    run: async (): Promise<ScenarioResult> => {
      const tail = await EventQueue.open(`s${spec.id}`);
      const brokerLink = await TcpProxy.start(LOCAL_BROKER.host, LOCAL_BROKER.port);
      try {
        return await runFaultSale({
          id: spec.id,
          title: spec.title,
          processes: spec.processes,
          redisNodes: 1,
          users: spec.users,
          stock: spec.stock,
          concurrency: spec.concurrency,
          faultAt: spec.faultAt,
          requestTimeoutMs: spec.requestTimeoutMs,
          rowWithout200Allowed: spec.rowWithout200Allowed,
          expect: spec.rowWithout200Allowed ? 'every-200-is-a-row' : 'exact',
          env: {
            EVENTS_URL: `amqp://guest:guest@127.0.0.1:${brokerLink.port}`,
            EVENTS_EXCHANGE: tail.exchange,
            ...spec.env,
          },
          fault: spec.fault && ((sale) => spec.fault!({ sale, brokerLink, tail })),
          after: async (sale, run) => {
            const context = { sale, brokerLink, tail };
            await spec.beforeClose?.(context);
            const admin = await login(sale.http, sale.group.adminUser, sale.group.adminPassword);
            const closed = await sale.http.request('POST', `/api/coupons/${sale.couponName}/close`, undefined, admin);
            sale.check('the coupon was closed after the sale', closed.status === 200, `${closed.status}`);
            const holders = await holdersOf(sale.group.databaseUrl, sale.couponName);
            const distinct = () => new Set(tail.of('claim.granted', sale.couponName).map((e) => e.body.id)).size;
            const started = Date.now();
            const arrived = await tail.until(
              () => distinct() >= holders.length && tail.of('coupon.closed', sale.couponName).length > 0,
              spec.deliveryWithinMs,
            );
            sale.check(
              `every event arrived within ${spec.deliveryWithinMs / 1000} s of the close`,
              arrived,
              `${distinct()} of ${holders.length} claim.granted after ${Date.now() - started} ms`,
            );
            // A moment more, so a duplicate on its way would be seen by the exactly-once check.
            await new Promise((resolve) => setTimeout(resolve, 500));
            for (const c of eventChecks(tail, sale.couponName, holders, { exactlyOnce: spec.exactlyOnce, closed: true }))
              sale.check(c.name, c.passed, c.detail);
            const claimOrder = await withDatabase(sale.group.databaseUrl, async (db) =>
              (
                await db.query(
                  `SELECT u.username FROM user_claims uc JOIN users u ON u.id = uc.user_id JOIN coupons c ON c.id = uc.coupon_id
                  WHERE c.name = $1 ORDER BY uc.id`,
                  [sale.couponName],
                )
              ).rows.map((r: { username: string }) => r.username),
            );
            const c = orderCheck(tail, sale.couponName, claimOrder);
            sale.check(c.name, c.passed, c.detail);
            sale.note(
              `${tail.events.length} messages on the test queue (${tail.of('claim.granted', sale.couponName).length} claim.granted for ${holders.length} rows)`,
            );
            await spec.after?.(context, run, holders);
          },
        });
      } finally {
        brokerLink.set('forward');
        await brokerLink.close();
        await tail.delete();
      }
    },
  };
}

/** Milliseconds from the last 200 (its claimed_at, the database clock) to the arrival of the last claim.granted. */
export function lastEventLagMs(tail: EventQueue, couponName: string, run: SaleRun): number {
  const lastGrant = Math.max(...run.records.filter((r) => r.status === 200 && r.claimedAt).map((r) => Date.parse(r.claimedAt!)));
  const firstArrival = new Map<string, number>();
  for (const e of tail.of('claim.granted', couponName)) if (!firstArrival.has(e.body.id)) firstArrival.set(e.body.id, e.receivedAt);
  return Math.max(...firstArrival.values()) - lastGrant;
}
