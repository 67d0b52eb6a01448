import { eventScenario, lastEventLagMs } from './event-sale';

const confirmedCount = (exposition: string) =>
  Number(/^events_published_total\{outcome="confirmed"\} (\S+)$/m.exec(exposition)?.[1] ?? NaN);

/** The promise in a quiet run: every claim's event exactly once, soon after its 200. */
export const QUIET_SALE_WITH_EVENTS = eventScenario({
  id: 20,
  title: 'Events: two API processes relay one sale to RabbitMQ',
  processes: 2,
  users: 1000,
  stock: 400,
  exactlyOnce: true,
  deliveryWithinMs: 15_000,
  after: async ({ sale, tail }, run) => {
    const lagMs = lastEventLagMs(tail, sale.couponName, run);
    sale.check('the last claim.granted arrived within 5 s of the last 200', lagMs <= 5000, `${lagMs} ms after the last grant's claimed_at`);
    // Publisher side of exactly-once: the processes together had as many confirms as events went out.
    const confirmed = await Promise.all(sale.group.urls.map(async (url) => confirmedCount(await (await fetch(`${url}/metrics`)).text())));
    const total = confirmed.reduce((a, b) => a + b, 0);
    sale.check(
      'the processes published each event once between them (confirms counted)',
      total === tail.events.length,
      `${confirmed.join(' + ')} confirms, ${tail.events.length} messages received`,
    );
    sale.note(`confirms per process: ${confirmed.join(', ')}; the last claim.granted arrived ${lagMs} ms after the last grant`);
  },
});
