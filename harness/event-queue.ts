import { randomBytes } from 'node:crypto';
import { ChannelModel, connect } from 'amqplib';
import { CheckResult } from './check-result';

/** The RabbitMQ every test and bench shares (never stopped by them: faults go through a TcpProxy). */
export const LOCAL_BROKER = { host: '127.0.0.1', port: 5672, url: 'amqp://guest:guest@127.0.0.1:5672' };

/** One message as a consumer of the exchange saw it. */
export interface ReceivedEvent {
  routingKey: string;
  messageId: string | undefined;
  contentType: string | undefined;
  /** 2: persistent. */
  deliveryMode: number | undefined;
  body: {
    id: string;
    type: string;
    occurred_at: string;
    coupon_name: string;
    user_id?: string;
    claimed_at?: string;
    [key: string]: unknown;
  };
  /** Date.now() when it arrived here. */
  receivedAt: number;
}

/**
 * A test's own exchange and a queue bound to it with `#`, on the shared broker, collecting
 * every message. The exchange is declared here as the service declares it (durable topic), so
 * nothing published before the service connects is lost to a missing binding. delete() removes
 * both.
 */
export class EventQueue {
  readonly events: ReceivedEvent[] = [];

  private constructor(
    private readonly connection: ChannelModel,
    readonly exchange: string,
    readonly queue: string,
    /** Whether delete() removes the exchange: only one this queue made for itself. */
    private readonly ownsExchange: boolean,
  ) {}

  /**
   * A queue on a new exchange of its own on the local broker; or, given `existing`, an
   * exclusive queue on a deployment's exchange (which delete() then leaves in place).
   */
  static async open(label: string, existing?: { url: string; exchange: string }): Promise<EventQueue> {
    const id = `${label}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
    const connection = await connect(existing?.url ?? LOCAL_BROKER.url);
    const channel = await connection.createChannel();
    const exchange = existing?.exchange ?? `test-events-${id}`;
    const queue = `test-events-${id}-all`;
    await channel.assertExchange(exchange, 'topic', { durable: true });
    await channel.assertQueue(queue, existing ? { exclusive: true } : { durable: true });
    await channel.bindQueue(queue, exchange, '#');
    const tail = new EventQueue(connection, exchange, queue, !existing);
    await channel.consume(
      queue,
      (message) => {
        if (!message) return;
        tail.events.push({
          routingKey: message.fields.routingKey,
          messageId: message.properties.messageId,
          contentType: message.properties.contentType,
          deliveryMode: message.properties.deliveryMode,
          body: JSON.parse(message.content.toString()),
          receivedAt: Date.now(),
        });
      },
      { noAck: true },
    );
    return tail;
  }

  /** The events of one type for one coupon, as received (duplicates included). */
  of(type: string, couponName: string): ReceivedEvent[] {
    return this.events.filter((e) => e.routingKey === type && e.body.coupon_name === couponName);
  }

  /** Waits until `done()` holds (after `refresh`, if given) or `ms` pass; whether it held. */
  async until(done: () => boolean, ms: number, refresh?: () => Promise<void>): Promise<boolean> {
    const deadline = Date.now() + ms;
    while ((await refresh?.(), !done())) {
      if (Date.now() > deadline) return false;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return true;
  }

  /** A second channel on the same connection, for a test's own declarations (a queue that refuses, say). */
  channel() {
    return this.connection.createChannel();
  }

  async delete(): Promise<void> {
    const channel = await this.connection.createChannel();
    await channel.deleteQueue(this.queue).catch(() => undefined);
    if (this.ownsExchange) await channel.deleteExchange(this.exchange).catch(() => undefined);
    await this.connection.close().catch(() => undefined);
  }
}

/**
 * The events of a sale against the database: one claim.granted per holder (`exactlyOnce`: and
 * no duplicate at all, as in a quiet run; otherwise duplicates by id are allowed, as after a
 * fault), the same users, unique ids, message_id = body id, JSON and persistent, with
 * coupon.created (and coupon.closed when `closed`).
 */
export function eventChecks(
  tail: EventQueue,
  couponName: string,
  holders: string[],
  options: { exactlyOnce: boolean; closed: boolean },
): CheckResult[] {
  const checks: CheckResult[] = [];
  const check = (name: string, passed: boolean, detail: string) => checks.push({ name, passed, detail });
  const granted = tail.of('claim.granted', couponName);
  const byId = new Map(granted.map((e) => [e.body.id, e]));
  const users = new Set([...byId.values()].map((e) => e.body.user_id));
  const holderSet = new Set(holders);
  const missing = holders.filter((h) => !users.has(h));
  const strangers = [...users].filter((u) => !holderSet.has(u!));
  check(
    'every claim in the database has its claim.granted event, and no other user does',
    missing.length === 0 && strangers.length === 0 && byId.size === holders.length,
    `${holders.length} rows, ${byId.size} distinct claim.granted events, ${missing.length} rows without one, ${strangers.length} events of users without a row`,
  );
  const duplicates = granted.length - byId.size;
  if (options.exactlyOnce) check('no event arrived twice (a quiet run)', duplicates === 0, `${duplicates} duplicate deliveries`);
  const perUser = new Map<string, number>();
  for (const e of byId.values()) perUser.set(e.body.user_id!, (perUser.get(e.body.user_id!) ?? 0) + 1);
  const twice = [...perUser.values()].filter((n) => n > 1).length;
  check('one claim.granted per claim: no user has two distinct event ids', twice === 0, `${twice} users with more than one event id`);
  const all = tail.events.filter((e) => e.body.coupon_name === couponName);
  const badProps = all.filter(
    (e) => e.messageId !== e.body.id || e.contentType !== 'application/json' || e.deliveryMode !== 2 || e.routingKey !== e.body.type,
  );
  check(
    'message_id = body id, application/json, persistent, routing key = type',
    badProps.length === 0,
    `${badProps.length} of ${all.length} messages differ`,
  );
  const badBodies = granted.filter(
    (e) => !e.body.claimed_at || Number.isNaN(Date.parse(e.body.occurred_at)) || Number.isNaN(Date.parse(e.body.claimed_at)),
  );
  check(
    'claim.granted bodies carry user_id, claimed_at and an ISO 8601 occurred_at',
    badBodies.length === 0,
    `${badBodies.length} incomplete bodies`,
  );
  const created = new Set(tail.of('coupon.created', couponName).map((e) => e.body.id)).size;
  check('coupon.created arrived once (by id)', created === 1, `${created} distinct coupon.created events`);
  if (options.closed) {
    const closed = new Set(tail.of('coupon.closed', couponName).map((e) => e.body.id)).size;
    check('coupon.closed arrived once (by id)', closed === 1, `${closed} distinct coupon.closed events`);
  }
  return checks;
}

/**
 * Commit order per coupon: the claim.granted events, each taken at its first arrival (a
 * duplicate after a fault comes later and is dropped by id, as a consumer would), name the
 * users in the order of their claim rows.
 */
export function orderCheck(tail: EventQueue, couponName: string, claimOrder: string[]): CheckResult {
  const seen = new Set<string>();
  const arrived: string[] = [];
  for (const e of tail.of('claim.granted', couponName)) {
    if (seen.has(e.body.id)) continue;
    seen.add(e.body.id);
    arrived.push(e.body.user_id!);
  }
  const firstOut = arrived.findIndex((user, i) => user !== claimOrder[i]);
  return {
    name: 'claim.granted events arrived in claim order (first arrival of each id)',
    passed: firstOut === -1 && arrived.length === claimOrder.length,
    detail:
      firstOut === -1
        ? `${arrived.length} events in order`
        : `event ${firstOut} of ${arrived.length} is ${arrived[firstOut]}, the claim row says ${claimOrder[firstOut]}`,
  };
}

/** Whether the shared broker has an exchange of this name (checkExchange fails its channel when not). */
export async function exchangeExists(exchange: string): Promise<boolean> {
  const connection = await connect(LOCAL_BROKER.url);
  try {
    const channel = await connection.createChannel();
    channel.on('error', () => undefined);
    return await channel.checkExchange(exchange).then(
      () => true,
      () => false,
    );
  } finally {
    await connection.close().catch(() => undefined);
  }
}

/** Deletes an exchange of the shared broker (a test's own; gone already is fine). */
export async function deleteExchange(exchange: string): Promise<void> {
  const connection = await connect(LOCAL_BROKER.url);
  try {
    const channel = await connection.createChannel();
    channel.on('error', () => undefined);
    await channel.deleteExchange(exchange).catch(() => undefined);
  } finally {
    await connection.close().catch(() => undefined);
  }
}

/**
 * `npm run stress --check-events`: after a sale, the events of each coupon against its
 * holders (from the database when there is one, else the 200s), waiting up to `withinMs` for
 * them to arrive. Duplicates by id are reported by the exactly-once check.
 */
export async function saleEventChecks(
  tail: EventQueue,
  coupons: string[],
  holdersOf: (coupon: string) => Promise<string[]>,
  withinMs: number,
): Promise<CheckResult[]> {
  const checks: CheckResult[] = [];
  const holders = new Map<string, string[]>();
  for (const coupon of coupons) holders.set(coupon, await holdersOf(coupon));
  const distinct = (coupon: string) => new Set(tail.of('claim.granted', coupon).map((e) => e.body.id)).size;
  const started = Date.now();
  const arrived = await tail.until(() => coupons.every((c) => distinct(c) >= holders.get(c)!.length), withinMs);
  checks.push({
    name: `events: every claim.granted arrived within ${withinMs / 1000} s of the sale`,
    passed: arrived,
    detail: `${coupons.reduce((n, c) => n + distinct(c), 0)} of ${coupons.reduce((n, c) => n + holders.get(c)!.length, 0)} after ${Date.now() - started} ms`,
  });
  await new Promise((resolve) => setTimeout(resolve, 500));
  for (const coupon of coupons) {
    for (const c of eventChecks(tail, coupon, holders.get(coupon)!, { exactlyOnce: true, closed: false })) {
      checks.push({ name: `events${coupons.length > 1 ? ` of ${coupon}` : ''}: ${c.name}`, passed: c.passed, detail: c.detail });
    }
  }
  return checks;
}
