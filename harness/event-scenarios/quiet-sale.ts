import { eventScenario, lastEventLagMs } from '../event-sale';

/** The promise in a quiet run: every claim's event exactly once, soon after its 200. */
export const QUIET_SALE_WITH_EVENTS = eventScenario({
  id: 20,
  title: 'Events: two API processes relay one sale to RabbitMQ',
  processes: 2, users: 1000, stock: 400, exactlyOnce: true, deliveryWithinMs: 15_000,
  after: async ({ sale, tail }, run) => {
    const lagMs = lastEventLagMs(tail, sale.couponName, run);
    sale.check('the last claim.granted arrived within 5 s of the last 200', lagMs <= 5000, `${lagMs} ms after the last grant's claimed_at`);
    const relayed = sale.group.processes.map((p) => p.count(/event broker connected/));
    sale.check('both processes connected their relay and declared the exchange', relayed.every((n) => n > 0), `connections per process: ${relayed.join(', ')}`);
  },
});
