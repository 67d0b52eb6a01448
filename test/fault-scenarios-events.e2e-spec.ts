import { EVENT_FAULT_SCENARIOS } from './faults/fault-scenario-list';
import { ScenarioResult } from '../harness/fault-sale';

/**
 * The event relay under faults (documentation/reliability.md): the broker unreachable, a
 * relaying process killed, a publish refused. Each scenario owns its processes, exchange and
 * queue; the shared RabbitMQ is only ever cut off through a TcpProxy.
 */
describe('event relay faults (separate API processes, RabbitMQ through a TcpProxy)', () => {
  const failed = (result: ScenarioResult) => result.checks.filter((c) => !c.passed).map((c) => `${c.name}: ${c.detail}`);

  for (const scenario of EVENT_FAULT_SCENARIOS) {
    it(`${scenario.id}. ${scenario.title}`, async () => {
      const result = await scenario.run();
      expect(failed(result)).toEqual([]);
      expect(result.checks.length).toBeGreaterThan(5);
      expect(result.oversell).toBe(0);
    }, 420_000);
  }
});
