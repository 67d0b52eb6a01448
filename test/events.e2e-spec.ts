import { QUIET_SALE_WITH_EVENTS } from '../harness/event-quiet-sale';
import { ScenarioResult } from '../harness/fault-sale';

/**
 * The event promise end to end: two API processes (dist/, npm test builds first) sell one
 * coupon on real PostgreSQL, Redis and RabbitMQ; a queue bound to the exchange with `#` gets
 * exactly one claim.granted per claim row, coupon.created and coupon.closed, soon after the sale.
 */
describe('events: a sale relayed to RabbitMQ by two API processes', () => {
  const failed = (result: ScenarioResult) => result.checks.filter((c) => !c.passed).map((c) => `${c.name}: ${c.detail}`);

  it(
    QUIET_SALE_WITH_EVENTS.title,
    async () => {
      const result = await QUIET_SALE_WITH_EVENTS.run();
      expect(failed(result)).toEqual([]);
      expect(result.rows).toBe(result.stock);
      expect(result.checks.length).toBeGreaterThan(10);
    },
    180_000,
  );
});
